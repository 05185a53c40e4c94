// The app's export, one for both of its Export… buttons (LabApi exportRun of
// a run's checkpoint, exportDesign of a composer design's initial weights):
// the PyTorch folder (export-torch.ts: model.py, config.json, the weights,
// README.txt, the torchrun recipe and convert_data.py), and, where one of
// flash-linear-attention's model classes computes the model, fla's own
// Hugging Face folder in <dir>/fla/ (export-fla.ts), as
// `linea export --format both` writes them.
import { join } from 'node:path'
import { exportFla, FLA_CAUSAL_LM, FlaNotApplicableError } from './export-fla'
import { exportTorch, type DesignOrigin } from './export-torch'

/** What the app's export wrote: the folder, its files (fla/ when written), the checkpoint's step, one line on fla. */
export interface AppExport {
  dir: string
  files: string[]
  step: number
  /** Whether fla's folder was written, or why no fla class computes the model. */
  fla: string
}

/** Exports the checkpoint at `checkpointPath` into `outDir` (see the file's header); `design` as export-torch.ts takes it. */
export function exportForApp(checkpointPath: string, outDir: string, options: { design?: DesignOrigin } = {}): AppExport {
  const torch = exportTorch(checkpointPath, outDir, { design: options.design })
  const out: AppExport = { dir: torch.dir, files: [...torch.files], step: torch.step, fla: torch.fla.line }
  if (!torch.fla.modelType) return out
  try {
    const fla = exportFla(checkpointPath, join(torch.dir, 'fla'), { design: options.design })
    out.files.push('fla/')
    out.fla = `flash-linear-attention: fla/ holds the model as its '${fla.modelType}' class (${FLA_CAUSAL_LM[fla.modelType]}: config.json, model.safetensors; import fla, then AutoModelForCausalLM.from_pretrained)`
  } catch (err) {
    // fla-config.ts decides both the note and this, so they agree; should they not, say so.
    if (!(err instanceof FlaNotApplicableError)) throw err
    out.fla = `flash-linear-attention: not written: ${err.message}`
  }
  return out
}
