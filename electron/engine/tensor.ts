// Tensor: a shape, a dtype and a handle to memory on one backend. Data moves
// between JS and the backend only through explicit reads and writes.
import type { Backend, BackendHandle } from './backend'

/**
 * bf16 (CUDA) and f16 (WebGPU with shader-f16) are GPU storage dtypes: they are read and written as
 * Float32Array (the backend rounds and widens).
 */
export type DType = 'f32' | 'f64' | 'i32' | 'bf16' | 'f16'
export type FloatDType = 'f32' | 'f64'
export type HostArray = Float32Array | Float64Array | Int32Array

export class Tensor {
  constructor(
    readonly backend: Backend,
    readonly handle: BackendHandle,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1)
  }

  get rank(): number {
    return this.shape.length
  }

  /** Copies the data to a new typed array (waits for the backend). */
  read(): Promise<HostArray> {
    return this.backend.read(this)
  }

  dispose(): void {
    this.backend.dispose(this)
  }

  /** The same memory with another shape of the same size. */
  view(shape: readonly number[]): Tensor {
    return this.backend.view(this, shape)
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.backend.id})`
  }
}

export function arrayFor(dtype: DType, size: number): HostArray {
  return dtype === 'f32' || dtype === 'bf16' || dtype === 'f16' ? new Float32Array(size) : dtype === 'f64' ? new Float64Array(size) : new Int32Array(size)
}

export function dtypeOf(data: HostArray): DType {
  return data instanceof Float32Array ? 'f32' : data instanceof Float64Array ? 'f64' : 'i32'
}
