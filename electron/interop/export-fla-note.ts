// Which of issue 20's two exports fits a ModelSpec, and why, in one line: a
// flash-linear-attention model class computes it (fla-config.ts maps it), or
// none does and the standalone PyTorch module is the export. The standalone
// module is written either way; this line says whether fla's would work too.
import type { ModelSpec } from '../api/model-spec'
import { FlaConfigError, flaConfigFromModelSpec } from './fla-config'

export interface FlaMappingNote {
  /** fla's model_type when one of its classes computes the spec. */
  modelType?: string
  line: string
}

export function flaMappingNote(spec: ModelSpec): FlaMappingNote {
  try {
    const modelType = String(flaConfigFromModelSpec(spec).config.model_type)
    return {
      modelType,
      line: `flash-linear-attention: its '${modelType}' model class computes this model too (fla's config and weights are the other export); this folder is the standalone module`,
    }
  } catch (err) {
    if (!(err instanceof FlaConfigError)) throw err
    return { line: `flash-linear-attention: no fla model class computes this model (${err.message}), so the standalone module here is the export` }
  }
}
