// Checked arguments for the addon's methods: each reads argument `i` as the
// type asked for, or throws a TypeError naming the method's argument, so a
// wrong call from JavaScript is an exception and never a cast of the wrong
// type (Napi's As<> does not check).
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ivfs::args {

[[noreturn]] inline void wrong(const Napi::CallbackInfo &info, size_t i, const char *what, const char *want) {
  throw Napi::TypeError::New(info.Env(), std::string(what) + " (argument " + std::to_string(i + 1) + ") must be " + want);
}

inline double number(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsNumber()) wrong(info, i, what, "a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// A whole number in [lo, hi]: JavaScript numbers are doubles, and a NaN, a
// fraction or an out-of-range value would otherwise wrap silently.
inline int64_t integer(const Napi::CallbackInfo &info, size_t i, const char *what, int64_t lo, int64_t hi) {
  double v = number(info, i, what);
  if (!(v >= double(lo) && v <= double(hi)) || std::floor(v) != v) {
    wrong(info, i, what, ("a whole number from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
  }
  return int64_t(v);
}

inline uint32_t uint32(const Napi::CallbackInfo &info, size_t i, const char *what) {
  return uint32_t(integer(info, i, what, 0, std::numeric_limits<uint32_t>::max()));
}

inline int32_t int32(const Napi::CallbackInfo &info, size_t i, const char *what) {
  return int32_t(integer(info, i, what, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
}

// Byte counts, offsets, handles and milliseconds: exact in a double up to 2^53.
inline uint64_t uint53(const Napi::CallbackInfo &info, size_t i, const char *what) {
  return uint64_t(integer(info, i, what, 0, int64_t(1) << 53));
}

inline std::string string(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsString()) wrong(info, i, what, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

inline bool boolean(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsBoolean()) wrong(info, i, what, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

inline Napi::Function function(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsFunction()) wrong(info, i, what, "a function");
  return info[i].As<Napi::Function>();
}

inline Napi::Object object(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsObject()) wrong(info, i, what, "an object");
  return info[i].As<Napi::Object>();
}

inline Napi::Buffer<uint8_t> buffer(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsBuffer()) wrong(info, i, what, "a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

inline std::vector<std::string> strings(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsArray()) wrong(info, i, what, "an array of strings");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) wrong(info, i, what, "an array of strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

// An optional property of an options object: absent (undefined) gives
// `fallback`, anything else must be a number.
inline double option_number(const Napi::CallbackInfo &info, const Napi::Object &o, const char *key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("option ") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace ivfs::args
