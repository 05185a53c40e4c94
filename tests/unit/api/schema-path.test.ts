// Template inputs and overrides set values by dotted path; only fields the
// schema defines are followed, so no path reaches a prototype.
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SchemaPathError, setAtSchemaPath } from '../../../electron/api/schema-path'
import { TrainSpecSchema } from '../../../electron/api/train-spec'

const Doc = z.strictObject({ train: TrainSpecSchema })

describe('setAtSchemaPath', () => {
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>).NODE_OPTIONS
  })

  it('sets fields the schema defines, through unions, creating objects on the way', () => {
    const doc: Record<string, unknown> = {}
    setAtSchemaPath(doc, Doc, ['train', 'steps'], 7)
    setAtSchemaPath(doc, Doc, ['train', 'task', 'num_kv_pairs'], 8)
    setAtSchemaPath(doc, Doc, ['train', 'task', 'path'], '/tmp/a.txt')
    expect(JSON.parse(JSON.stringify(doc))).toEqual({ train: { steps: 7, task: { num_kv_pairs: 8, path: '/tmp/a.txt' } } })
  })

  it('refuses prototype keys and unknown fields, naming the valid ones', () => {
    for (const path of ['train.__proto__.NODE_OPTIONS', 'train.constructor.prototype.NODE_OPTIONS', '__proto__.NODE_OPTIONS']) {
      const doc: Record<string, unknown> = { train: {} }
      expect(() => setAtSchemaPath(doc, Doc, path.split('.'), '--require /tmp/x.js')).toThrow(SchemaPathError)
    }
    expect(({} as Record<string, unknown>).NODE_OPTIONS).toBeUndefined()
    expect(() => setAtSchemaPath({}, Doc, ['train', 'stepz'], 1)).toThrow(/'stepz' is not a field of train; valid: .*batch_size.*steps/)
    expect(() => setAtSchemaPath({}, Doc, ['train', 'steps', 'x'], 1)).toThrow(/'x' is not a field of train\.steps; valid: none \(not an object\)/)
  })

  it('does not follow a value the document already holds under a key the schema lacks', () => {
    // An inherited property is not the document's own: a fresh object is made instead of writing into it.
    const doc = { train: Object.create({ optimizer: Object.prototype }) as Record<string, unknown> }
    setAtSchemaPath(doc, Doc, ['train', 'optimizer', 'lr'], 0.1)
    expect((Object.prototype as Record<string, unknown>).lr).toBeUndefined()
    expect((doc.train.optimizer as Record<string, unknown>).lr).toBe(0.1)
  })
})
