// The port transport's messages: a printf-formatted std::string, for the
// reasons the decoder and the mirror give ("DATA for slot 9, beyond
// capacity 4"), cut at 200 bytes.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

namespace ivfs {
namespace port {

__attribute__((format(printf, 1, 2))) inline std::string say(const char *fmt, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace port
}  // namespace ivfs
