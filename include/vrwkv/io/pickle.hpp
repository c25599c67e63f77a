#pragma once
// A small pickle virtual machine for what torch.save writes (protocol 2, and
// the binary opcodes of protocols 3-4). It builds plain values and never runs
// code: the few callables a checkpoint needs (OrderedDict, the torch tensor
// rebuilders, torch.Size, set) are recognised by name, every other global
// becomes an opaque value. Memo, stack, marks and value count are bounded and
// every read is checked, so a hostile stream raises vrwkv::error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vrwkv/core/error.hpp"
#include "vrwkv/io/json.hpp"

namespace vrwkv::pickle {

inline constexpr int max_protocol = 5;
inline constexpr std::size_t max_values = 1u << 20;   // values one stream may create
inline constexpr std::size_t max_stack = 1u << 20;
inline constexpr std::size_t max_marks = 1u << 16;
inline constexpr std::size_t max_memo = 1u << 20;
inline constexpr std::size_t max_global_name = 1024;
inline constexpr std::size_t max_tensor_rank = 32;
inline constexpr int max_call_depth = 8;  // nested _rebuild_from_type_v2 wrappers

enum class kind : std::uint8_t {
    none, boolean, integer, floating, string, bytes, tuple, list, dict,
    global,   // a module attribute named by GLOBAL, not called
    object,   // the result of calling or instantiating an unrecognised global
    storage,  // a torch storage named by a persistent id
    tensor,   // torch._utils._rebuild_tensor_v2(...)
};

struct value;

// ('storage', type, key, location, numel): torch's persistent id of a storage.
struct storage_info {
    std::string type;  // qualified name, e.g. "torch.FloatStorage"
    std::string key;   // the archive holds the bytes in <folder>/data/<key>
    std::string location;
    std::int64_t numel = 0;
};

// A strided view of a storage; offset, sizes and strides count elements.
struct tensor_info {
    const value* storage = nullptr;
    std::int64_t offset = 0;
    std::vector<std::int64_t> sizes, strides;
};

struct value {
    kind type = kind::none;
    bool flag = false;         // boolean
    std::int64_t integer = 0;  // integer
    double number = 0;         // floating; also integers wider than 64 bits, approximately
    std::string text;          // string, bytes; global and object: "module.name"
    std::vector<value*> items;                       // tuple, list (and set); object: its argument tuple
    std::vector<std::pair<value*, value*>> entries;  // dict, in insertion order
    std::unique_ptr<storage_info> storage;
    std::unique_ptr<tensor_info> tensor;

    bool is_string(const std::string& s) const { return type == kind::string && text == s; }
    // The value stored under string key `key` (the last one, as Python keeps), or nullptr.
    const value* find(const std::string& key) const {
        const value* found = nullptr;
        for (const auto& [k, v] : entries)
            if (k->is_string(key)) found = v;
        return found;
    }
};

// The values one stream produced; they refer to each other by pointer (memo
// references may even form cycles), so they live and die together here.
class document {
public:
    document(document&&) = default;
    document& operator=(document&&) = default;
    document(const document&) = delete;
    document& operator=(const document&) = delete;

    const value& root() const { return *root_; }
    std::size_t value_count() const { return count_; }

private:
    static constexpr std::size_t chunk_size = 256;

    document() = default;
    friend class machine;
    // Values live in fixed chunks: addresses stay put, and allocation is rare.
    value* allocate() {
        if (count_ % chunk_size == 0) chunks_.push_back(std::make_unique<value[]>(chunk_size));
        return &chunks_.back()[count_++ % chunk_size];
    }

    std::vector<std::unique_ptr<value[]>> chunks_;
    std::size_t count_ = 0;
    value* root_ = nullptr;
};

// Checks that s is well-formed UTF-8. (Python lets pickles carry lone
// surrogates; they are refused here because JSON text could not hold them.)
inline bool valid_utf8(const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned c = *p++;
        if (c < 0x80) continue;
        int extra = 0;
        unsigned cp = 0;
        if (c >= 0xc2 && c <= 0xdf) extra = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) extra = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) extra = 3, cp = c & 0x07;
        else return false;
        if (end - p < extra) return false;
        for (int i = 0; i < extra; ++i, ++p) {
            if ((*p & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
    }
    return true;
}

class machine {
public:
    machine(const std::uint8_t* data, std::size_t size, std::string source)
        : data_(data), size_(size), source_(std::move(source)) {}

    document run() {
        for (;;) {
            op_start_ = pos_;
            const std::uint8_t op = byte();
            if (op == '.') {  // STOP
                doc_.root_ = pop();
                return std::move(doc_);
            }
            step(op);
        }
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw error(source_ + ": corrupt or unsupported pickle stream: " + why + " (opcode at byte " +
                    std::to_string(op_start_) + ")");
    }

    // ---- reading the stream
    const std::uint8_t* take(std::uint64_t n) {
        if (n > size_ - pos_) fail("needs " + std::to_string(n) + " more bytes but the stream ends (truncated)");
        const std::uint8_t* p = data_ + pos_;
        pos_ += static_cast<std::size_t>(n);
        return p;
    }
    std::uint8_t byte() { return *take(1); }
    std::uint64_t le(int bytes) {
        const std::uint8_t* p = take(static_cast<std::uint64_t>(bytes));
        std::uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
        return v;
    }
    std::string bytes_of(std::uint64_t n) {
        const std::uint8_t* p = take(n);
        return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    std::string line() {
        std::string s;
        for (;;) {
            const std::uint8_t c = byte();
            if (c == '\n') return s;
            if (s.size() >= max_global_name) fail("global name longer than " + std::to_string(max_global_name) + " bytes");
            s += static_cast<char>(c);
        }
    }

    // ---- values and the stack
    value* make(kind k) {
        if (doc_.count_ >= max_values) fail("more than " + std::to_string(max_values) + " values");
        value* v = doc_.allocate();
        v->type = k;
        return v;
    }
    value* make_string(kind k, std::string s) {
        if (k == kind::string && !valid_utf8(s)) fail("string is not valid UTF-8");
        value* v = make(k);
        v->text = std::move(s);
        return v;
    }
    value* make_int(std::int64_t i) {
        value* v = make(kind::integer);
        v->integer = i;
        return v;
    }
    std::size_t frame() const { return marks_.empty() ? 0 : marks_.back(); }
    void push(value* v) {
        if (stack_.size() >= max_stack) fail("stack deeper than " + std::to_string(max_stack));
        stack_.push_back(v);
    }
    value* top() {
        if (stack_.size() <= frame()) fail("stack underflow");
        return stack_.back();
    }
    value* pop() {
        value* v = top();
        stack_.pop_back();
        return v;
    }
    std::vector<value*> pop_mark() {
        if (marks_.empty()) fail("no MARK to pop to");
        const std::size_t m = marks_.back();
        marks_.pop_back();
        std::vector<value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    value* make_tuple(std::vector<value*> items) {
        value* t = make(kind::tuple);
        t->items = std::move(items);
        return t;
    }
    // Python numbers memo entries 0, 1, 2, ...: a dense vector, bounded.
    void memo_put(std::uint64_t index) {
        value* v = top();
        if (index >= max_memo) fail("memo index " + std::to_string(index) + " exceeds the limit of " + std::to_string(max_memo));
        if (index >= memo_.size()) memo_.resize(static_cast<std::size_t>(index) + 1, nullptr);
        memo_count_ += memo_[index] == nullptr;
        memo_[index] = v;
    }
    value* memo_get(std::uint64_t index) {
        if (index >= memo_.size() || memo_[index] == nullptr)
            fail("memo index " + std::to_string(index) + " was never stored");
        return memo_[index];
    }

    // LONG1 / LONG4: little-endian two's complement of n bytes.
    value* make_long(std::uint64_t n) {
        const std::uint8_t* p = take(n);
        const bool negative = n > 0 && (p[n - 1] & 0x80);
        if (n <= 8) {
            std::uint64_t u = 0;
            for (std::uint64_t i = n; i-- > 0;) u = (u << 8) | p[i];
            if (negative && n < 8) u |= ~std::uint64_t(0) << (8 * n);
            return make_int(static_cast<std::int64_t>(u));
        }
        double d = 0;
        for (std::uint64_t i = n; i-- > 0;) d = d * 256.0 + p[i];
        if (negative) d -= std::ldexp(1.0, static_cast<int>(n > 1024 ? 8192 : 8 * n));
        if (!std::isfinite(d)) d = negative ? -HUGE_VAL : HUGE_VAL;
        value* v = make(kind::floating);
        v->number = d;
        return v;
    }

    // ---- the torch-specific pieces
    static std::int64_t require_int(const value* v) { return v->type == kind::integer ? v->integer : -1; }

    std::vector<std::int64_t> int_sequence(const value* v, const char* what) {
        if (v->type != kind::tuple && v->type != kind::list) fail(std::string("tensor ") + what + " is not a tuple");
        if (v->items.size() > max_tensor_rank)
            fail(std::string("tensor ") + what + " has " + std::to_string(v->items.size()) + " dimensions (at most " +
                 std::to_string(max_tensor_rank) + ")");
        std::vector<std::int64_t> out;
        for (const value* x : v->items) {
            if (x->type != kind::integer || x->integer < 0)
                fail(std::string("tensor ") + what + " holds something other than a non-negative integer");
            out.push_back(x->integer);
        }
        return out;
    }

    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]),
    // _rebuild_tensor(storage, offset, size, stride).
    value* rebuild_tensor(const std::string& name, const std::vector<value*>& a) {
        const bool v2 = name == "torch._utils._rebuild_tensor_v2";
        if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
            fail(name + " called with " + std::to_string(a.size()) + " arguments");
        if (a[0]->type != kind::storage) fail(name + ": first argument is not a storage (persistent id)");
        auto t = std::make_unique<tensor_info>();
        t->storage = a[0];
        t->offset = require_int(a[1]);
        if (t->offset < 0) fail(name + ": storage offset is not a non-negative integer");
        t->sizes = int_sequence(a[2], "size");
        t->strides = int_sequence(a[3], "stride");
        if (t->sizes.size() != t->strides.size())
            fail(name + ": size has " + std::to_string(t->sizes.size()) + " dimensions but stride " +
                 std::to_string(t->strides.size()));
        value* v = make(kind::tensor);
        v->tensor = std::move(t);
        return v;
    }

    value* persistent_load(const value* pid) {
        const auto& a = pid->items;
        if (pid->type != kind::tuple || a.size() != 5 || !a[0]->is_string("storage"))
            fail("persistent id is not ('storage', type, key, location, numel)");
        if (a[1]->type != kind::global || a[2]->type != kind::string || a[3]->type != kind::string ||
            a[4]->type != kind::integer || a[4]->integer < 0)
            fail("persistent id ('storage', ...) has fields of the wrong types");
        auto s = std::make_unique<storage_info>();
        s->type = a[1]->text;
        s->key = a[2]->text;
        s->location = a[3]->text;
        s->numel = a[4]->integer;
        value* v = make(kind::storage);
        v->storage = std::move(s);
        return v;
    }

    // REDUCE / NEWOBJ: the recognised callables give plain values, the rest opaque objects.
    value* call(value* callable, value* args, int depth = 0) {
        if (args->type != kind::tuple) fail("call arguments are not a tuple");
        const std::vector<value*>& a = args->items;
        if (callable->type == kind::global) {
            const std::string& n = callable->text;
            if (n == "collections.OrderedDict" || n == "builtins.dict" || n == "__builtin__.dict") {
                if (a.empty()) return make(kind::dict);
            } else if (n == "torch._tensor._rebuild_from_type_v2") {
                // (func, type, args, state): a tensor carrying Python attributes; rebuild the plain tensor.
                if (a.size() == 4 && a[2]->type == kind::tuple && depth < max_call_depth)
                    return call(a[0], a[2], depth + 1);
            } else if (n == "torch._utils._rebuild_tensor_v2" || n == "torch._utils._rebuild_tensor") {
                return rebuild_tensor(n, a);
            } else if (n == "torch._utils._rebuild_parameter" || n == "torch._utils._rebuild_parameter_with_state") {
                if (a.empty() || a[0]->type != kind::tensor) fail(n + ": first argument is not a tensor");
                return a[0];
            } else if (n == "torch.Size") {
                if (a.size() == 1 && a[0]->type == kind::tuple) return a[0];
            } else if (n == "builtins.set" || n == "__builtin__.set" || n == "builtins.frozenset" ||
                       n == "__builtin__.frozenset") {
                if (a.empty()) return make(kind::list);
                if (a.size() == 1 && a[0]->type == kind::list) return a[0];  // shared, not copied: bounded work
            }
        }
        value* o = make(kind::object);
        o->text = callable->type == kind::global || callable->type == kind::object ? callable->text : "object";
        o->items.push_back(args);  // by reference: a memoised tuple reused many times costs nothing
        return o;
    }

    void step(std::uint8_t op) {
        switch (op) {
            case 0x80: {  // PROTO
                const int proto = byte();
                if (proto > max_protocol) fail("pickle protocol " + std::to_string(proto) + " is newer than 5");
                return;
            }
            case 0x95: {  // FRAME: a length prefix only
                const std::uint64_t n = le(8);
                if (n > size_ - pos_) fail("frame of " + std::to_string(n) + " bytes runs past the stream");
                return;
            }
            case '(': {  // MARK
                if (marks_.size() >= max_marks) fail("more than " + std::to_string(max_marks) + " nested MARKs");
                marks_.push_back(stack_.size());
                return;
            }
            case '0':  // POP: a value, or the mark if the frame is empty (as Python does)
                if (stack_.size() > frame()) stack_.pop_back();
                else pop_mark();
                return;
            case '1': pop_mark(); return;  // POP_MARK
            case '2': push(top()); return;  // DUP

            case 'N': push(make(kind::none)); return;
            case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
                value* v = make(kind::boolean);
                v->flag = op == 0x88;
                push(v);
                return;
            }
            case 'J': push(make_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4))))); return;  // BININT
            case 'K': push(make_int(byte())); return;                                                     // BININT1
            case 'M': push(make_int(static_cast<std::int64_t>(le(2)))); return;                           // BININT2
            case 0x8a: push(make_long(byte())); return;                                                   // LONG1
            case 0x8b: {                                                                                  // LONG4
                const auto n = static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4)));
                if (n < 0) fail("LONG4 with a negative length");
                push(make_long(static_cast<std::uint64_t>(n)));
                return;
            }
            case 'G': {  // BINFLOAT: big-endian double
                const std::uint8_t* p = take(8);
                std::uint64_t u = 0;
                for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
                double d;
                std::memcpy(&d, &u, sizeof d);
                value* v = make(kind::floating);
                v->number = d;
                push(v);
                return;
            }

            case 'X': push(make_string(kind::string, bytes_of(le(4)))); return;     // BINUNICODE
            case 0x8c: push(make_string(kind::string, bytes_of(byte()))); return;   // SHORT_BINUNICODE
            case 0x8d: push(make_string(kind::string, bytes_of(le(8)))); return;    // BINUNICODE8
            case 'B': push(make_string(kind::bytes, bytes_of(le(4)))); return;      // BINBYTES
            case 'C': push(make_string(kind::bytes, bytes_of(byte()))); return;     // SHORT_BINBYTES
            case 0x8e: push(make_string(kind::bytes, bytes_of(le(8)))); return;     // BINBYTES8
            case 'U': push(make_string(kind::bytes, bytes_of(byte()))); return;     // SHORT_BINSTRING
            case 'T': {                                                             // BINSTRING
                const auto n = static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4)));
                if (n < 0) fail("BINSTRING with a negative length");
                push(make_string(kind::bytes, bytes_of(static_cast<std::uint64_t>(n))));
                return;
            }

            case ')': push(make(kind::tuple)); return;  // EMPTY_TUPLE
            case 't': push(make_tuple(pop_mark())); return;
            case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
                std::vector<value*> items(static_cast<std::size_t>(op - 0x84));
                for (std::size_t i = items.size(); i-- > 0;) items[i] = pop();
                push(make_tuple(std::move(items)));
                return;
            }
            case ']': case 0x8f: push(make(kind::list)); return;  // EMPTY_LIST, EMPTY_SET (sets are lists here)
            case 'l': case 0x91: {                                // LIST, FROZENSET
                value* l = make(kind::list);
                l->items = pop_mark();
                push(l);
                return;
            }
            case 'a': {  // APPEND
                value* x = pop();
                append(top(), {x});
                return;
            }
            case 'e': case 0x90: {  // APPENDS, ADDITEMS
                std::vector<value*> xs = pop_mark();
                append(top(), xs);
                return;
            }
            case '}': push(make(kind::dict)); return;  // EMPTY_DICT
            case 'd': {                                // DICT
                value* d = make(kind::dict);
                set_items(d, pop_mark());
                push(d);
                return;
            }
            case 's': {  // SETITEM
                value* v = pop();
                value* k = pop();
                set_items(top(), {k, v});
                return;
            }
            case 'u': {  // SETITEMS
                std::vector<value*> kv = pop_mark();
                set_items(top(), kv);
                return;
            }

            case 'c': {  // GLOBAL "module\nname\n"
                std::string module = line();
                std::string name = line();
                push(make_global(module, name));
                return;
            }
            case 0x93: {  // STACK_GLOBAL
                value* name = pop();
                value* module = pop();
                if (module->type != kind::string || name->type != kind::string) fail("STACK_GLOBAL needs two strings");
                push(make_global(module->text, name->text));
                return;
            }
            case 'R': {  // REDUCE
                value* args = pop();
                value* callable = pop();
                push(call(callable, args));
                return;
            }
            case 0x81: {  // NEWOBJ
                value* args = pop();
                value* cls = pop();
                push(call(cls, args));
                return;
            }
            case 0x92: {  // NEWOBJ_EX (keyword arguments are dropped)
                pop();
                value* args = pop();
                value* cls = pop();
                push(call(cls, args));
                return;
            }
            case 'b': {  // BUILD: object state (OrderedDict._metadata, ...) is not needed
                pop();
                top();
                return;
            }
            case 'Q': push(persistent_load(pop())); return;  // BINPERSID

            case 'q': memo_put(byte()); return;                       // BINPUT
            case 'r': memo_put(le(4)); return;                        // LONG_BINPUT
            case 0x94: memo_put(memo_count_); return;                 // MEMOIZE
            case 'h': push(memo_get(byte())); return;                 // BINGET
            case 'j': push(memo_get(le(4))); return;                  // LONG_BINGET
            default: {
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02x", op);
                fail(std::string("unsupported opcode ") + hex);
            }
        }
    }

    value* make_global(const std::string& module, const std::string& name) {
        if (module.size() + name.size() > max_global_name) fail("global name too long");
        if (!valid_utf8(module) || !valid_utf8(name)) fail("global name is not valid UTF-8");
        value* g = make(kind::global);
        g->text = module + "." + name;
        return g;
    }

    // List-likes take the items; an opaque object (a custom container) swallows them.
    void append(value* target, const std::vector<value*>& xs) {
        if (target->type == kind::list) target->items.insert(target->items.end(), xs.begin(), xs.end());
        else if (target->type != kind::object) fail("APPEND to something that is not a list");
    }
    void set_items(value* target, const std::vector<value*>& kv) {
        if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of stack items");
        if (target->type == kind::dict) {
            for (std::size_t i = 0; i < kv.size(); i += 2) target->entries.emplace_back(kv[i], kv[i + 1]);
        } else if (target->type != kind::object) {
            fail("SETITEM on something that is not a dict");
        }
    }

    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
    std::size_t op_start_ = 0;
    std::string source_;
    document doc_;
    std::vector<value*> stack_;
    std::vector<std::size_t> marks_;
    std::vector<value*> memo_;
    std::size_t memo_count_ = 0;
};

// Runs the stream to its STOP opcode; trailing bytes are ignored (as Python does).
inline document unpickle(const std::uint8_t* data, std::size_t size, const std::string& source = "pickle data") {
    return machine(data, size, source).run();
}

namespace detail {

inline std::string number_json(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    char buf[40];
    for (int precision = 15; precision <= 17; ++precision) {  // shortest text that reads back exactly
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string s = buf;
    if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // keep it visibly a float, as Python prints
    return s;
}

// Depth-, node- and size-bounded, so cyclic or huge structures still render.
class json_renderer {
public:
    static constexpr int max_depth = 32;
    static constexpr std::size_t max_nodes = 100000;
    static constexpr std::size_t max_chars = 1u << 20;

    void render(const value& v, int depth) {
        if (depth > max_depth || ++nodes_ > max_nodes || out_.size() > max_chars) return put_text("...");
        switch (v.type) {
            case kind::none: out_ += "null"; return;
            case kind::boolean: out_ += v.flag ? "true" : "false"; return;
            case kind::integer: out_ += std::to_string(v.integer); return;
            case kind::floating: out_ += number_json(v.number); return;
            case kind::string: return put_text(v.text);
            case kind::bytes: return put_text("bytes");
            case kind::global: case kind::object: return put_text(v.text);
            case kind::storage: return put_text(v.storage->type);
            case kind::tensor: return put_text("torch.Tensor");
            case kind::tuple: case kind::list:
                out_ += '[';
                for (std::size_t i = 0; i < v.items.size(); ++i) {
                    if (i) out_ += ", ";
                    render(*v.items[i], depth + 1);
                }
                out_ += ']';
                return;
            case kind::dict:
                out_ += '{';
                for (std::size_t i = 0; i < v.entries.size(); ++i) {
                    if (i) out_ += ", ";
                    const value& k = *v.entries[i].first;
                    if (k.type == kind::string) {
                        put_text(k.text);
                    } else {  // JSON keys are strings: render the key, then quote that
                        json_renderer inner;
                        inner.nodes_ = nodes_;
                        inner.render(k, depth + 1);
                        nodes_ = inner.nodes_;
                        put_text(inner.out_);
                    }
                    out_ += ": ";
                    render(*v.entries[i].second, depth + 1);
                }
                out_ += '}';
                return;
        }
    }
    std::string take() { return std::move(out_); }

private:
    void put_text(const std::string& s) { out_ += s.size() + out_.size() > max_chars ? "\"...\"" : json::quote(s); }

    std::size_t nodes_ = 0;
    std::string out_;
};

}  // namespace detail

// JSON text for a value, best effort: strings, numbers, lists, dicts; an
// opaque value is shown as its global name, a tensor as "torch.Tensor".
inline std::string to_json(const value& v) {
    detail::json_renderer r;
    r.render(v, 0);
    return r.take();
}

}  // namespace vrwkv::pickle
