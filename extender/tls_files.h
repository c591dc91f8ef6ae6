#pragma once

// The files TLS serving is configured from (--tls-cert-file, --tls-private-key-file,
// --client-ca-file). Apart from extender/tls_context.h so that users of extender/server.h do not
// see OpenSSL's headers.

#include <string>

namespace mlsched::extender {

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: no client certificates asked for
};

}  // namespace mlsched::extender
