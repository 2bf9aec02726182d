// tests/ctl/mini_json.h — just enough JSON to check forge-ctl's output in
// tests: objects, arrays, strings (simple escapes), numbers, true/false/
// null. Parse() returns nullopt on any syntax error, so a malformed output
// fails the test instead of being half-read.
#pragma once

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forge::testing::json {

struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<Value> items;
  std::map<std::string, Value> fields;

  // Member by dotted path ("broker.pid"); nullptr when absent.
  const Value* At(std::string_view path) const {
    const Value* v = this;
    while (!path.empty()) {
      const auto dot = path.find('.');
      const std::string key(path.substr(0, dot));
      if (v->kind != Kind::kObject) return nullptr;
      const auto it = v->fields.find(key);
      if (it == v->fields.end()) return nullptr;
      v = &it->second;
      path = dot == std::string_view::npos ? "" : path.substr(dot + 1);
    }
    return v;
  }
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Value> Parse() {
    Value v;
    if (!ParseValue(&v)) return std::nullopt;
    Skip();
    if (i_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void Skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])))
      ++i_;
  }
  bool Eat(char c) {
    Skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  bool ParseValue(Value* v) {
    Skip();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') return ParseObject(v);
    if (c == '[') return ParseArray(v);
    if (c == '"') {
      v->kind = Value::Kind::kString;
      return ParseString(&v->text);
    }
    if (Word("true") || Word("false")) {
      v->kind = Value::Kind::kBool;
      v->boolean = c == 't';
      return true;
    }
    if (Word("null")) return true;
    return ParseNumber(v);
  }

  bool ParseNumber(Value* v) {
    const std::string rest(s_.substr(i_, 64));
    char* end = nullptr;
    v->number = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return false;
    i_ += static_cast<std::size_t>(end - rest.c_str());
    v->kind = Value::Kind::kNumber;
    return true;
  }

  bool ParseString(std::string* out) {
    ++i_;  // opening quote
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        if (++i_ >= s_.size()) return false;
        if (s_[i_] == 'u') {
          if (i_ + 4 >= s_.size()) return false;
          *out += static_cast<char>(std::strtol(
              std::string(s_.substr(i_ + 1, 4)).c_str(), nullptr, 16));
          i_ += 5;
          continue;
        }
        const char e = s_[i_];
        *out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        ++i_;
        continue;
      }
      *out += s_[i_++];
    }
    if (i_ >= s_.size()) return false;
    ++i_;  // closing quote
    return true;
  }

  bool ParseArray(Value* v) {
    v->kind = Value::Kind::kArray;
    ++i_;
    if (Eat(']')) return true;
    do {
      v->items.emplace_back();
      if (!ParseValue(&v->items.back())) return false;
    } while (Eat(','));
    return Eat(']');
  }

  bool ParseObject(Value* v) {
    v->kind = Value::Kind::kObject;
    ++i_;
    if (Eat('}')) return true;
    do {
      Skip();
      std::string key;
      if (i_ >= s_.size() || s_[i_] != '"' || !ParseString(&key)) return false;
      if (!Eat(':')) return false;
      if (!ParseValue(&v->fields[key])) return false;
    } while (Eat(','));
    return Eat('}');
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

inline std::optional<Value> Parse(std::string_view s) {
  return Parser(s).Parse();
}

}  // namespace forge::testing::json
