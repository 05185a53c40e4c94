// The Node-API face of the native engine (linea.node).
//
// Tensors stay on their backend; JS holds a `Tensor` handle and copies data
// in and out explicitly (`read` returns a fresh V8-owned typed array, since
// Electron forbids external buffers). Ops run through the op table by name:
//   run(backend, op, inputs: {name: Tensor}, attrs: {name: value}, outputs?: string[])
// and a call can be checked without tensors: planOp(op, inputs: {name: {shape, dtype}},
// attrs, outputs?) returns what run would produce, accepts(backend, ...the same) whether
// that backend takes the call (null) or why not.
// Data parallel over GPUs: ncclAvailable(), ncclUniqueId(), ncclCollective(backend, id,
// world, rank) -> {allReduceSum(tensors), wait(), destroy()} (linea/collective.h).
// Every caller mistake surfaces as a JS Error whose message names the bad value.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include "linea/backend.h"
#include "linea/collective.h"
#include "linea/engine_info.h"
#include "linea/ops.h"

namespace {

using linea::DType;

// Runs fn, turning C++ exceptions into JS errors (node-addon-api only
// translates Napi::Error itself).
template <class Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const linea::OpError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, "LINEA_OP_ERROR"));
    throw err;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("linea native error: ") + e.what());
  }
}

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Tensor",
                       {
                           InstanceAccessor<&TensorHandle::Shape>("shape"),
                           InstanceAccessor<&TensorHandle::Dtype>("dtype"),
                           InstanceAccessor<&TensorHandle::BackendName>("backend"),
                           InstanceAccessor<&TensorHandle::Bytes>("bytes"),
                           InstanceAccessor<&TensorHandle::Disposed>("disposed"),
                           InstanceMethod<&TensorHandle::Read>("read"),
                           InstanceMethod<&TensorHandle::ReadLater>("readLater"),
                           InstanceMethod<&TensorHandle::Write>("write"),
                           InstanceMethod<&TensorHandle::Dispose>("dispose"),
                           InstanceMethod<&TensorHandle::View>("view"),
                           InstanceMethod<&TensorHandle::Fill>("fill"),
                       });
  }

  // new Tensor(backend, dtype, shape, data?) or, from C++, new Tensor(External<linea::Tensor>)
  explicit TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() == 1 && info[0].IsExternal()) {
        tensor_ = *info[0].As<Napi::External<linea::Tensor>>().Data();
      } else {
        if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsArray())
          throw Napi::TypeError::New(
              env, "new Tensor(backend: string, dtype: 'f32' | 'f64' | 'i32' | 'bf16', shape: number[], data?)");
        auto& backend = linea::get_backend(info[0].As<Napi::String>());
        const DType dtype = linea::parse_dtype(info[1].As<Napi::String>());
        tensor_ = backend.empty(parse_shape(env, info[2].As<Napi::Array>()), dtype);
        if (info.Length() >= 4 && !info[3].IsUndefined()) WriteFrom(env, info[3]);
      }
      track(env, static_cast<int64_t>(tensor_.bytes()));
      return 0;
    });
  }

  ~TensorHandle() override { release(); }

  static linea::Shape parse_shape(Napi::Env, const Napi::Array& dims) {
    linea::Shape shape;
    for (uint32_t i = 0; i < dims.Length(); ++i) {
      Napi::Value d = dims[i];
      const double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
      // Checked before the cast: a double at or above 2^63 does not convert to int64 (undefined behaviour).
      if (!(v >= 0 && v <= 9007199254740991.0) || v != std::floor(v))
        throw linea::OpError("tensor shape dim " + std::to_string(i) +
                             " must be a non-negative integer up to 2^53 - 1 (a JavaScript safe integer)");
      shape.push_back(static_cast<int64_t>(v));
    }
    return shape;
  }

  const linea::Tensor& tensor(Napi::Env env) const {
    if (!tensor_.defined()) throw Napi::Error::New(env, "tensor was disposed");
    return tensor_;
  }

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info) {
    auto arr = Napi::Array::New(info.Env(), tensor_.shape.size());
    for (size_t i = 0; i < tensor_.shape.size(); ++i)
      arr.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(tensor_.shape[i])));
    return arr;
  }
  Napi::Value Dtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), linea::dtype_name(tensor_.dtype));
  }
  Napi::Value BackendName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), tensor_.backend ? tensor_.backend->name() : "");
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), tensor_.defined() ? static_cast<double>(tensor_.bytes()) : 0);
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !tensor_.defined()); }

  // Copies the tensor into a new Float32Array / Float64Array / Int32Array
  // (bf16 widens to a Float32Array, exactly).
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto& t = tensor(env);
      return host_array(env, t.dtype, static_cast<size_t>(t.numel()),
                        [&](void* dst) { t.backend->copy_to_host(t, dst, t.bytes()); });
    });
  }

  // readLater(): starts the copy to the host after the work enqueued so far and
  // returns { read() }, which waits for that copy only (not for work enqueued
  // after it) and gives what read() gives. The tensor may be disposed meanwhile.
  Napi::Value ReadLater(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto& t = tensor(env);
      std::shared_ptr<linea::PendingCopy> pending = t.backend->copy_to_host_later(t, t.bytes());
      const DType dtype = t.dtype;
      const size_t n = static_cast<size_t>(t.numel()), bytes = t.bytes();
      Napi::Object out = Napi::Object::New(env);
      out.Set("read", Napi::Function::New(env, [pending, dtype, n, bytes](const Napi::CallbackInfo& call) {
                Napi::Env e = call.Env();
                return guarded(e, [&]() -> Napi::Value {
                  const void* src = pending->wait();
                  return host_array(e, dtype, n, [&](void* dst) { std::memcpy(dst, src, bytes); });
                });
              }));
      return out;
    });
  }

  // A new typed array of n elements for dtype, filled by fill(dst) with the
  // tensor's bytes (bf16 and f16 are widened to f32 after the fill).
  template <class Fill>
  static Napi::Value host_array(Napi::Env env, DType dtype, size_t n, Fill&& fill) {
    if (linea::is_16bit(dtype)) {
      std::vector<uint16_t> bits(n);
      fill(bits.data());
      auto out = Napi::Float32Array::New(env, n);
      for (size_t j = 0; j < n; ++j)
        out[j] = dtype == DType::bf16 ? linea::bf16_to_float(bits[j]) : linea::f16_to_float(bits[j]);
      return out;
    }
    if (dtype == DType::f32) {
      auto out = Napi::Float32Array::New(env, n);
      fill(out.Data());
      return out;
    }
    if (dtype == DType::i32) {
      auto out = Napi::Int32Array::New(env, n);
      fill(out.Data());
      return out;
    }
    auto out = Napi::Float64Array::New(env, n);
    fill(out.Data());
    return out;
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      tensor(env);
      if (info.Length() < 1) throw Napi::TypeError::New(env, "write(data: Float32Array | Float64Array | Int32Array)");
      WriteFrom(env, info[0]);
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    release();
    return info.Env().Undefined();
  }

  // view(shape): a new handle on the same memory with another shape of the same size.
  Napi::Value View(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto& t = tensor(env);
      if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "view(shape: number[])");
      linea::Tensor v = t;
      v.shape = parse_shape(env, info[0].As<Napi::Array>());
      if (v.numel() != t.numel())
        throw linea::OpError("cannot view a tensor of shape " + linea::shape_str(t.shape) + " (" +
                             std::to_string(t.numel()) + " elements) as " + linea::shape_str(v.shape) + " (" +
                             std::to_string(v.numel()) + " elements)");
      auto ctor = info.This().As<Napi::Object>().Get("constructor").As<Napi::Function>();
      return ctor.New({Napi::External<linea::Tensor>::New(env, &v)});
    });
  }

  Napi::Value Fill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      const auto& t = tensor(env);
      if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "fill(value: number)");
      linea::Tensor copy = t;
      t.backend->fill(copy, info[0].As<Napi::Number>().DoubleValue());
      return 0;
    });
    return env.Undefined();
  }

  static const char* array_name(DType d) {
    return d == DType::f32 || linea::is_16bit(d) ? "Float32Array" : d == DType::f64 ? "Float64Array" : "Int32Array";
  }

  void WriteFrom(Napi::Env env, Napi::Value value) {
    if (!value.IsTypedArray())
      throw Napi::TypeError::New(env, std::string("tensor data must be a ") + array_name(tensor_.dtype));
    auto arr = value.As<Napi::TypedArray>();
    const auto want = tensor_.dtype == DType::f32 || linea::is_16bit(tensor_.dtype) ? napi_float32_array
                      : tensor_.dtype == DType::f64                                 ? napi_float64_array
                                                                                    : napi_int32_array;
    if (arr.TypedArrayType() != want)
      throw Napi::TypeError::New(env, std::string("tensor of dtype ") + linea::dtype_name(tensor_.dtype) + " takes a " +
                                          array_name(tensor_.dtype));
    if (static_cast<int64_t>(arr.ElementLength()) != tensor_.numel())
      throw linea::OpError("tensor data has " + std::to_string(arr.ElementLength()) + " elements, shape " +
                           linea::shape_str(tensor_.shape) + " needs " + std::to_string(tensor_.numel()));
    const auto* src = static_cast<const uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    if (linea::is_16bit(tensor_.dtype)) {  // rounded to nearest even on the way in
      const auto* f = reinterpret_cast<const float*>(src);
      std::vector<uint16_t> bits(static_cast<size_t>(tensor_.numel()));
      const bool bf = tensor_.dtype == DType::bf16;
      for (size_t j = 0; j < bits.size(); ++j)
        bits[j] = bf ? linea::bf16_from_float(f[j]) : linea::f16_from_float(f[j]);
      tensor_.backend->copy_from_host(tensor_, bits.data(), tensor_.bytes());
      return;
    }
    tensor_.backend->copy_from_host(tensor_, src, tensor_.bytes());
  }

  // Host-side tensors count towards V8's external memory so GC runs in time.
  void track(Napi::Env env, int64_t bytes) {
    if (tensor_.defined() && tensor_.buffer->device == linea::DeviceKind::cpu) {
      Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
      tracked_ = bytes;
      env_ = env;
    }
  }

  void release() {
    if (tracked_ && env_) {
      Napi::MemoryManagement::AdjustExternalMemory(env_, -tracked_);
      tracked_ = 0;
    }
    tensor_ = linea::Tensor();
  }

  linea::Tensor tensor_;
  int64_t tracked_ = 0;
  napi_env env_ = nullptr;
};

class LineaAddon : public Napi::Addon<LineaAddon> {
 public:
  LineaAddon(Napi::Env env, Napi::Object exports) {
    Napi::Function tensor_class = TensorHandle::Define(env);
    tensor_constructor_ = Napi::Persistent(tensor_class);
    DefineAddon(exports, {
                             InstanceValue("Tensor", tensor_class),
                             InstanceMethod<&LineaAddon::Info>("info"),
                             InstanceMethod<&LineaAddon::Backends>("backends"),
                             InstanceMethod<&LineaAddon::OpTable>("opTable"),
                             InstanceMethod<&LineaAddon::Run>("run"),
                             InstanceMethod<&LineaAddon::PlanOp>("planOp"),
                             InstanceMethod<&LineaAddon::Accepts>("accepts"),
                             InstanceMethod<&LineaAddon::Memory>("memory"),
                             InstanceMethod<&LineaAddon::Synchronize>("synchronize"),
                             InstanceMethod<&LineaAddon::TrimCache>("trimCache"),
                             InstanceMethod<&LineaAddon::RecordEvent>("recordEvent"),
                             InstanceMethod<&LineaAddon::EventElapsed>("eventElapsed"),
                             InstanceMethod<&LineaAddon::SetPoisonOutputs>("setPoisonOutputs"),
                             InstanceMethod<&LineaAddon::NcclAvailable>("ncclAvailable"),
                             InstanceMethod<&LineaAddon::NcclUniqueId>("ncclUniqueId"),
                             InstanceMethod<&LineaAddon::NcclCollective>("ncclCollective"),
                         });
  }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto e = linea::engine_info();
      auto out = Napi::Object::New(env);
      out.Set("version", e.version);
      out.Set("backendsCompiled", strings(env, e.backends_compiled));
      out.Set("cudaStatus", e.cuda_status);
      auto devices = Napi::Array::New(env, e.devices.size());
      for (size_t i = 0; i < e.devices.size(); ++i) {
        const auto& d = e.devices[i];
        auto o = Napi::Object::New(env);
        o.Set("backend", d.backend);
        o.Set("id", d.backend == "cpu" ? std::string("cpu") : d.backend + ":" + std::to_string(d.index));
        o.Set("index", d.index);
        o.Set("name", d.name);
        o.Set("memoryBytes", static_cast<double>(d.memory_bytes));
        if (d.free_bytes >= 0) o.Set("freeBytes", static_cast<double>(d.free_bytes));
        o.Set("detail", d.detail);
        devices.Set(static_cast<uint32_t>(i), o);
      }
      out.Set("devices", devices);
      out.Set("blas", e.blas);
      out.Set("cpuThreads", e.cpu_threads);
      out.Set("compiler", e.compiler);
      out.Set("napiVersion", NAPI_VERSION);
      return out;
    });
  }

  Napi::Value Backends(const Napi::CallbackInfo& info) { return strings(info.Env(), linea::backend_names()); }

  Napi::Value OpTable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto& table = linea::op_table();
      auto out = Napi::Array::New(env, table.size());
      for (size_t i = 0; i < table.size(); ++i) out.Set(static_cast<uint32_t>(i), describe(env, table[i]));
      return out;
    });
  }

  // run(backend, op, inputs, attrs, outputs?) -> {name: Tensor}
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject() || !info[3].IsObject())
        throw Napi::TypeError::New(
            env, "run(backend: string, op: string, inputs: object, attrs: object, outputs?: string[])");
      auto& backend = linea::get_backend(info[0].As<Napi::String>());
      const std::string op = info[1].As<Napi::String>();
      linea::TensorMap inputs;
      auto in = info[2].As<Napi::Object>();
      auto in_names = in.GetPropertyNames();
      for (uint32_t i = 0; i < in_names.Length(); ++i) {
        const std::string name = in_names.Get(i).As<Napi::String>();
        Napi::Value v = in.Get(name);
        if (v.IsUndefined() || v.IsNull()) continue;  // an absent optional input
        if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(tensor_constructor_.Value()))
          throw Napi::TypeError::New(env, op + ": input " + name + " is not a Tensor");
        inputs[name] = TensorHandle::Unwrap(v.As<Napi::Object>())->tensor(env);
      }
      const auto attrs = parse_attrs(env, op, info[3].As<Napi::Object>());
      const auto want = parse_outputs(info, 4);
      const auto outputs = linea::run_op(backend, op, inputs, attrs, want);
      auto out = Napi::Object::New(env);
      for (const auto& [name, t] : outputs) {
        linea::Tensor copy = t;
        out.Set(name, tensor_constructor_.New({Napi::External<linea::Tensor>::New(env, &copy)}));
      }
      return out;
    });
  }

  // planOp(op, inputs: {name: {shape, dtype}}, attrs, outputs?) -> {op, dtype, dims, attrs, outputs}
  Napi::Value PlanOp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsObject())
        throw Napi::TypeError::New(
            env,
            "planOp(op: string, inputs: {[name]: {shape: number[], dtype: string}}, attrs: object, "
            "outputs?: string[])");
      const std::string op = info[0].As<Napi::String>();
      const auto plan = linea::plan_op(op, parse_descs(env, op, info[1].As<Napi::Object>()),
                                       parse_attrs(env, op, info[2].As<Napi::Object>()), parse_outputs(info, 3));
      auto out = Napi::Object::New(env);
      out.Set("op", plan.op->name);
      out.Set("dtype", linea::dtype_name(plan.dtype));
      auto dims = Napi::Object::New(env);
      for (const auto& [name, n] : plan.dims) dims.Set(name, Napi::Number::New(env, static_cast<double>(n)));
      out.Set("dims", dims);
      auto attrs = Napi::Object::New(env);
      for (const auto& [name, v] : plan.attrs.all()) attrs.Set(name, attr_value(env, v));
      out.Set("attrs", attrs);
      auto outputs = Napi::Array::New(env, plan.outputs.size());
      for (size_t i = 0; i < plan.outputs.size(); ++i) {
        const auto& o = plan.outputs[i];
        auto oo = Napi::Object::New(env);
        oo.Set("name", o.name);
        auto shape = Napi::Array::New(env, o.shape.size());
        for (size_t d = 0; d < o.shape.size(); ++d)
          shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(o.shape[d])));
        oo.Set("shape", shape);
        oo.Set("dtype", linea::dtype_name(o.dtype));
        outputs.Set(static_cast<uint32_t>(i), oo);
      }
      out.Set("outputs", outputs);
      return out;
    });
  }

  // accepts(backend, op, inputs: {name: {shape, dtype}}, attrs, outputs?) -> null, or why the
  // backend does not take the call. A call the op table refuses throws, as planOp does.
  Napi::Value Accepts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject() || !info[3].IsObject())
        throw Napi::TypeError::New(env,
                                   "accepts(backend: string, op: string, inputs: {[name]: {shape: number[], dtype: "
                                   "string}}, attrs: object, outputs?: string[])");
      const std::string backend_name = info[0].As<Napi::String>();
      const auto& backend = linea::get_backend(backend_name);
      const std::string op = info[1].As<Napi::String>();
      const auto plan = linea::plan_op(op, parse_descs(env, op, info[2].As<Napi::Object>()),
                                       parse_attrs(env, op, info[3].As<Napi::Object>()), parse_outputs(info, 4));
      const auto reason = backend.accepts(plan);
      if (!reason) return env.Null();
      return Napi::String::New(env, *reason);
    });
  }

  Napi::Value Memory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "memory(backend: string)");
      auto& backend = linea::get_backend(info[0].As<Napi::String>());
      const auto m = backend.memory();
      if (info.Length() >= 2 && info[1].ToBoolean()) backend.reset_peak();
      auto out = Napi::Object::New(env);
      out.Set("bytesInUse", static_cast<double>(m.bytes_in_use));
      out.Set("peakBytes", static_cast<double>(m.peak_bytes));
      out.Set("allocations", static_cast<double>(m.allocations));
      out.Set("cachedBytes", static_cast<double>(backend.cached_bytes()));
      return out;
    });
  }

  // trimCache(backend): gives the backend's cached free memory back (after a job, so that other
  // processes, such as a data-parallel run's ranks on the same GPU, can have it).
  Napi::Value TrimCache(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "trimCache(backend: string)");
      linea::get_backend(info[0].As<Napi::String>()).trim_cache();
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value Synchronize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "synchronize(backend: string)");
      linea::get_backend(info[0].As<Napi::String>()).synchronize();
      return 0;
    });
    return env.Undefined();
  }

  // recordEvent(backend): an opaque event after the work enqueued so far (the profiler's timing).
  Napi::Value RecordEvent(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "recordEvent(backend: string)");
      auto* event =
          new std::shared_ptr<linea::TimingEvent>(linea::get_backend(info[0].As<Napi::String>()).record_event());
      return Napi::External<std::shared_ptr<linea::TimingEvent>>::New(
          env, event, [](Napi::Env, std::shared_ptr<linea::TimingEvent>* e) { delete e; });
    });
  }

  // eventElapsed(start, end): milliseconds between two events of one backend; waits for `end`.
  Napi::Value EventElapsed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 2 || !info[0].IsExternal() || !info[1].IsExternal())
        throw Napi::TypeError::New(env, "eventElapsed(start: event, end: event) with events from recordEvent");
      auto& start = *info[0].As<Napi::External<std::shared_ptr<linea::TimingEvent>>>().Data();
      auto& end = *info[1].As<Napi::External<std::shared_ptr<linea::TimingEvent>>>().Data();
      return Napi::Number::New(env, end->elapsed_ms_since(*start));
    });
  }

  Napi::Value NcclAvailable(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), linea::collective_available());
  }

  Napi::Value NcclUniqueId(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto id = linea::collective_unique_id();
      auto out = Napi::Uint8Array::New(env, id.size());
      std::memcpy(out.Data(), id.data(), id.size());
      return out;
    });
  }

  // ncclCollective(backend, id: Uint8Array(128), world, rank): joins the run; returns once every rank has.
  Napi::Value NcclCollective(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 4 || !info[0].IsString() || !info[1].IsTypedArray() || !info[2].IsNumber() ||
          !info[3].IsNumber())
        throw Napi::TypeError::New(env, "ncclCollective(backend: string, id: Uint8Array, world: number, rank: number)");
      auto id_array = info[1].As<Napi::Uint8Array>();
      std::vector<uint8_t> id(id_array.Data(), id_array.Data() + id_array.ElementLength());
      // One holder for the three functions, so destroy() ends the communicator at once.
      auto holder = std::make_shared<std::shared_ptr<linea::Collective>>(linea::make_collective(
          linea::get_backend(info[0].As<Napi::String>()), id, info[2].As<Napi::Number>(), info[3].As<Napi::Number>()));
      auto live = [holder](Napi::Env e) -> linea::Collective& {
        if (!*holder) throw Napi::Error::New(e, "the NCCL communicator was destroyed");
        return **holder;
      };
      auto out = Napi::Object::New(env);
      out.Set("allReduceSum", Napi::Function::New(env, [live](const Napi::CallbackInfo& call) {
                Napi::Env e = call.Env();
                return guarded(e, [&]() -> Napi::Value {
                  if (call.Length() < 1 || !call[0].IsArray())
                    throw Napi::TypeError::New(e, "allReduceSum(tensors: Tensor[])");
                  auto arr = call[0].As<Napi::Array>();
                  std::vector<linea::Tensor> tensors;
                  for (uint32_t i = 0; i < arr.Length(); ++i)
                    tensors.push_back(TensorHandle::Unwrap(arr.Get(i).As<Napi::Object>())->tensor(e));
                  live(e).all_reduce_sum(tensors);
                  return e.Undefined();
                });
              }));
      out.Set("wait", Napi::Function::New(env, [live](const Napi::CallbackInfo& call) {
                return guarded(call.Env(), [&]() -> Napi::Value {
                  live(call.Env()).wait();
                  return call.Env().Undefined();
                });
              }));
      out.Set("destroy", Napi::Function::New(env, [holder](const Napi::CallbackInfo& call) {
                holder->reset();
                return call.Env().Undefined();
              }));
      return out;
    });
  }

  Napi::Value SetPoisonOutputs(const Napi::CallbackInfo& info) {
    linea::set_poison_outputs(info.Length() > 0 && info[0].ToBoolean());
    return info.Env().Undefined();
  }

  // {name: value}: numbers, booleans and strings; undefined means the default.
  static std::map<std::string, linea::AttrValue> parse_attrs(Napi::Env env, const std::string& op,
                                                             const Napi::Object& at) {
    std::map<std::string, linea::AttrValue> attrs;
    auto at_names = at.GetPropertyNames();
    for (uint32_t i = 0; i < at_names.Length(); ++i) {
      const std::string name = at_names.Get(i).As<Napi::String>();
      Napi::Value v = at.Get(name);
      if (v.IsUndefined()) continue;
      if (v.IsBoolean()) attrs[name] = v.As<Napi::Boolean>().Value();
      else if (v.IsNumber()) attrs[name] = v.As<Napi::Number>().DoubleValue();
      else if (v.IsString()) attrs[name] = std::string(v.As<Napi::String>());
      else throw Napi::TypeError::New(env, op + ": attribute " + name + " must be a number, boolean or string");
    }
    return attrs;
  }

  // The optional outputs asked for: info[index], when it is an array of names.
  static std::vector<std::string> parse_outputs(const Napi::CallbackInfo& info, size_t index) {
    std::vector<std::string> want;
    if (info.Length() > index && info[index].IsArray()) {
      auto arr = info[index].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) want.push_back(arr.Get(i).As<Napi::String>());
    }
    return want;
  }

  // {name: {shape: number[], dtype: string}}; undefined or null means an absent optional input.
  static std::map<std::string, linea::TensorDesc> parse_descs(Napi::Env env, const std::string& op,
                                                              const Napi::Object& in) {
    std::map<std::string, linea::TensorDesc> descs;
    auto names = in.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).As<Napi::String>();
      Napi::Value v = in.Get(name);
      if (v.IsUndefined() || v.IsNull()) continue;
      Napi::Value shape = v.IsObject() ? v.As<Napi::Object>().Get("shape") : env.Undefined();
      Napi::Value dtype = v.IsObject() ? v.As<Napi::Object>().Get("dtype") : env.Undefined();
      if (!shape.IsArray() || !dtype.IsString())
        throw Napi::TypeError::New(env, op + ": input " + name + " must be {shape: number[], dtype: string}");
      descs[name] = linea::TensorDesc{TensorHandle::parse_shape(env, shape.As<Napi::Array>()),
                                      linea::parse_dtype(dtype.As<Napi::String>())};
    }
    return descs;
  }

  static Napi::Array strings(Napi::Env env, const std::vector<std::string>& items) {
    auto arr = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); ++i) arr.Set(static_cast<uint32_t>(i), items[i]);
    return arr;
  }

  static Napi::Value attr_value(Napi::Env env, const linea::AttrValue& v) {
    if (auto p = std::get_if<int64_t>(&v)) return Napi::Number::New(env, static_cast<double>(*p));
    if (auto p = std::get_if<double>(&v)) return Napi::Number::New(env, *p);
    if (auto p = std::get_if<bool>(&v)) return Napi::Boolean::New(env, *p);
    return Napi::String::New(env, std::get<std::string>(v));
  }

  static Napi::Array sigs(Napi::Env env, const std::vector<linea::TensorSig>& list) {
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      auto o = Napi::Object::New(env);
      o.Set("name", list[i].name);
      o.Set("shape", list[i].shape);
      o.Set("optional", list[i].presence != linea::Presence::required);
      o.Set("index", list[i].index);
      o.Set("stats", list[i].stats);
      o.Set("doc", list[i].doc);
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }

  static Napi::Object describe(Napi::Env env, const linea::OpDef& op) {
    static const char* kTypes[] = {"int", "float", "bool", "enum"};
    auto o = Napi::Object::New(env);
    o.Set("name", op.name);
    o.Set("doc", op.doc);
    o.Set("inputs", sigs(env, op.signature.inputs));
    o.Set("outputs", sigs(env, op.signature.outputs));
    auto attrs = Napi::Array::New(env, op.attrs.size());
    for (size_t i = 0; i < op.attrs.size(); ++i) {
      const auto& a = op.attrs[i];
      auto ao = Napi::Object::New(env);
      ao.Set("name", a.name);
      ao.Set("type", kTypes[static_cast<int>(a.type)]);
      ao.Set("default", attr_value(env, a.default_value));
      if (a.type == linea::AttrType::enum_) ao.Set("choices", strings(env, a.choices));
      if (a.type == linea::AttrType::int_ || a.type == linea::AttrType::float_) {
        ao.Set("min", a.min);
        ao.Set("max", a.max);
      }
      ao.Set("doc", a.doc);
      attrs.Set(static_cast<uint32_t>(i), ao);
    }
    o.Set("attrs", attrs);
    std::vector<std::string> dtypes;
    for (DType d : op.dtypes) dtypes.push_back(linea::dtype_name(d));
    o.Set("dtypes", strings(env, dtypes));
    auto kernels = Napi::Object::New(env);
    for (const auto& name : linea::backend_names()) {
      std::vector<std::string> have;
      for (DType d : op.dtypes)
        if (linea::get_backend(name).kernel(op.name, d)) have.push_back(linea::dtype_name(d));
      kernels.Set(name, strings(env, have));
    }
    o.Set("kernels", kernels);
    return o;
  }

  Napi::FunctionReference tensor_constructor_;
};

}  // namespace

NODE_API_ADDON(LineaAddon)
