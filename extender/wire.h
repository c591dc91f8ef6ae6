#pragma once

// The extender wire format (k8s.io/kube-scheduler/extender/v1): decoding the scheduler's
// request bodies and encoding our answers.
//
// Decoding is as lenient as Go's encoding/json (keys match case-insensitively, the last of
// duplicate keys wins, unused pointer fields may be null or absent) and as strict as untrusted
// input needs: a size limit, a nesting-depth limit enforced while parsing (RapidJSON's
// iterative parser, so no recursion), and a type check before every use. Encoding is exactly
// what Go's encoding/json writes for these types: every field (the types have no json tags and
// no omitempty), map keys sorted, strings escaped as Go escapes them.
//
// The full-Nodes speed path: ExtenderArgs records the byte range of every NodeList item while
// parsing, so that the filter answer copies the passing Node objects from the request body
// instead of re-serialising them.
//
// Everything here is a pure function of its input; thread-safe.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "extender/node_names_cache.h"
#include "policy/engine.h"
#include "policy/objects.h"
#include "policy/status.h"

namespace mlsched::extender {

struct DecodeLimits {
  // Bodies larger than this are refused before parsing.
  size_t max_body_bytes = 64u << 20;
  // Objects and arrays nested deeper than this are refused while parsing. Kubernetes objects
  // (managedFields included) stay well under 64.
  int max_depth = 512;
};

// A byte range [begin, end) of a request body.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};

// ExtenderArgs: the filter and prioritize request.
struct ExtenderArgs {
  ExtenderArgs() = default;
  ExtenderArgs(const ExtenderArgs&) = delete;
  ExtenderArgs& operator=(const ExtenderArgs&) = delete;
  ExtenderArgs(ExtenderArgs&&) = default;
  ExtenderArgs& operator=(ExtenderArgs&&) = default;

  policy::Pod pod;
  // True when `Nodes` was a NodeList (nodeCacheCapable: false): `nodes`, `item_spans` and
  // `list_metadata` are filled and candidates point at `nodes`. Otherwise candidates are the
  // names of `NodeNames`.
  bool full_nodes = false;
  // Whether the request carried a non-null NodeNames (answer it in the same shape).
  bool has_node_names = false;
  // The decoder saw that no candidate name holds a byte Go would escape: encoders copy the
  // names as they are. False when unknown.
  bool names_plain = false;
  std::vector<policy::Node> nodes;
  std::vector<Span> item_spans;  // of each NodeList item, aligned with `nodes`
  Span list_metadata;            // of NodeList.metadata; empty when absent
  // Candidates in request order. Names point into `buffer_` or `nodes`: valid as long as this
  // object lives (moves included).
  std::vector<policy::Candidate> candidates;

  // The parse buffer that names mode string_views point into, or the shared list they view.
  std::unique_ptr<char[]> buffer_;
  std::shared_ptr<const NodeNamesList> names_;
};

// ExtenderBindingArgs: the bind request.
struct BindingArgs {
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::string node;
};

// ExtenderPreemptionArgs: the preempt request, in either shape (NodeNameToMetaVictims with
// UIDs when nodeCacheCapable, NodeNameToVictims with whole Pods otherwise); victims are
// reduced to UIDs. Nodes are in the order the body lists them.
struct PreemptionArgs {
  policy::Pod pod;
  std::vector<policy::NodeVictims> candidates;
};

// Decoders. On failure return InvalidArgument with a message fit for the client (it names the
// field: "NodeNames[3]: expected a string"), and leave *out unspecified. Never crash, whatever
// the body.
// `cache` (optional) remembers the last node-name lists (node_names_cache.h).
Status DecodeExtenderArgs(std::string_view body, const DecodeLimits& limits, ExtenderArgs* out,
                          NodeNamesCache* cache = nullptr);
Status DecodeBindingArgs(std::string_view body, const DecodeLimits& limits, BindingArgs* out);
Status DecodePreemptionArgs(std::string_view body, const DecodeLimits& limits,
                            PreemptionArgs* out);

// Encoders. Each appends to *out.

// ExtenderFilterResult for `args` (decoded from `body`, which must be the same bytes).
// Only candidates named by indices in `result` are written (out-of-range indices are
// dropped), so the answer never names a node that was not in the request. In full mode the
// passing Node objects are the request's own bytes.
void EncodeFilterResult(const ExtenderArgs& args, std::string_view body,
                        const policy::FilterResult& result, std::string* out);
// An ExtenderFilterResult carrying only `error` (the call failed as a whole).
void EncodeFilterError(std::string_view error, std::string* out);
// HostPriorityList: one entry per candidate in request order; scores clamped to 0..10.
// `names_plain`: the caller knows that no name needs escaping (ExtenderArgs::names_plain).
void EncodeHostPriorityList(const std::vector<policy::Candidate>& candidates,
                            const policy::Scores& scores, std::string* out,
                            bool names_plain = false);
// ExtenderBindingResult.
void EncodeBindingResult(std::string_view error, std::string* out);
// ExtenderPreemptionResult: NodeNameToMetaVictims, nodes sorted as Go sorts map keys.
void EncodePreemptionResult(const std::vector<policy::NodeVictims>& result, std::string* out);
// The 400 body for a request that could not be read: {"error":"..."}.
void EncodeBadRequest(std::string_view message, std::string* out);

// Appends `s` as a JSON string exactly as Go's encoding/json writes it: quotes, `\"`, `\\`,
// `\n`, `\r`, `\t`, other control characters and `<`, `>`, `&`, U+2028, U+2029 as `\u00XX` /
// `\u20XX`, invalid UTF-8 bytes as `\ufffd`.
void AppendGoString(std::string_view s, std::string* out);

// Case-insensitive key match as Go's encoding/json does it. `field` must be lower-case ASCII.
// Besides ASCII case, Go folds U+017F (long s) to 's' and U+212A (Kelvin sign) to 'k'.
bool KeyMatches(std::string_view key, std::string_view field);

}  // namespace mlsched::extender
