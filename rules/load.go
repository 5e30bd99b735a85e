package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxRuleFile bounds what Load reads: rule files are small, and a huge
// input is a mistake (or a fuzzer), not a rule pack.
const maxRuleFile = 8 << 20

// Problem is one thing wrong in a rule file.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Rule string `json:"rule,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	if p.Rule != "" {
		b.WriteString(": rule " + p.Rule)
	}
	b.WriteString(": " + p.Msg)
	return b.String()
}

// ValidationError lists every problem found in one or more rule files.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid rules: " + lines[0]
	}
	return fmt.Sprintf("invalid rules (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// RuleSet is an ordered set of compiled rules with unique IDs.
type RuleSet struct {
	rules []*Rule
}

// Rules returns every rule, disabled ones included, in load order.
func (s *RuleSet) Rules() []*Rule {
	if s == nil {
		return nil
	}
	return append([]*Rule(nil), s.rules...)
}

// Enabled returns the rules that run.
func (s *RuleSet) Enabled() []*Rule {
	var out []*Rule
	for _, r := range s.Rules() {
		if !r.Disabled {
			out = append(out, r)
		}
	}
	return out
}

// Get returns the rule with the given ID.
func (s *RuleSet) Get(id string) (*Rule, bool) {
	for _, r := range s.Rules() {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// Merge returns a set with the rules of every set in order; a rule whose ID
// is already present replaces it in place (an override), so a --rules file
// can change or disable a built-in rule.
func Merge(sets ...*RuleSet) *RuleSet {
	out := &RuleSet{}
	index := make(map[string]int)
	for _, s := range sets {
		for _, r := range s.Rules() {
			if i, ok := index[r.ID]; ok {
				out.rules[i] = r
				continue
			}
			index[r.ID] = len(out.rules)
			out.rules = append(out.rules, r)
		}
	}
	return out
}

// LoadFile reads one rule file.
func LoadFile(path string) (*RuleSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open rules: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

// LoadPath reads a rule file, or every *.yaml and *.yml file in a folder
// (not recursively, in name order). Problems in all files are reported
// together; the same rule ID in two files is a problem.
func LoadPath(path string) (*RuleSet, error) {
	st, err := os.Stat(path)
	if err != nil {
		// A rule file that cannot be read is reported like one that does
		// not validate: with its name, beside the other problems.
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, &ValidationError{Problems: []Problem{{File: path, Msg: "cannot read: " + msg}}}
	}
	if !st.IsDir() {
		return LoadFile(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("read rules folder: %w", err)
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") && !strings.HasSuffix(strings.ToLower(e.Name()), ".test.yaml") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, &ValidationError{Problems: []Problem{{File: path, Msg: "no rule files (*.yaml, *.yml) in this folder"}}}
	}
	return loadFiles(files, func(p string) (io.ReadCloser, error) { return os.Open(p) })
}

func loadFiles(files []string, open func(string) (io.ReadCloser, error)) (*RuleSet, error) {
	var problems []Problem
	out := &RuleSet{}
	seen := make(map[string]string)
	for _, p := range files {
		f, err := open(p)
		if err != nil {
			return nil, fmt.Errorf("open rules: %w", err)
		}
		set, err := Load(f, p)
		f.Close()
		var ve *ValidationError
		if errors.As(err, &ve) {
			problems = append(problems, ve.Problems...)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, r := range set.rules {
			if prev, dup := seen[r.ID]; dup {
				problems = append(problems, Problem{File: p, Line: r.Line, Rule: r.ID, Msg: "id already used in " + prev})
				continue
			}
			seen[r.ID] = r.Origin
			out.rules = append(out.rules, r)
		}
	}
	if problems != nil {
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Load reads and compiles the rules in r; name is the file name used in
// problems and rule origins. Every problem is reported at once in a
// *ValidationError: unknown keys, bad values, bad regexes, unknown
// placeholders, duplicate IDs, each with file, line and rule ID.
func Load(r io.Reader, name string) (set *RuleSet, err error) {
	defer func() {
		// yaml.v3 recovers its own panics; this guards the rest of the
		// loader against inputs nobody thought of.
		if p := recover(); p != nil {
			set, err = nil, &ValidationError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("cannot read rule file: %v", p)}}}
		}
	}()
	data, err := io.ReadAll(io.LimitReader(r, maxRuleFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxRuleFile {
		return nil, &ValidationError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("larger than %d MiB: not a rule file", maxRuleFile>>20)}}}
	}
	invalid := func(ps ...Problem) (*RuleSet, error) { return nil, &ValidationError{Problems: ps} }

	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return invalid(yamlProblem(name, err))
		}
		docs = append(docs, &doc)
	}
	if len(docs) == 0 {
		return invalid(Problem{File: name, Msg: "empty file: want a top-level 'rules:' list"})
	}

	var problems []Problem
	out := &RuleSet{}
	ids := make(map[string]int)
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	for _, doc := range docs {
		var fs fileSpec
		decErr := strict.Decode(&fs)
		ruleNodes := ruleNodesOf(doc)
		ruleAt := func(line int) string {
			id := ""
			for _, rn := range ruleNodes {
				if rn.node.Line <= line {
					id = rn.id
				}
			}
			return id
		}
		var te *yaml.TypeError
		switch {
		case errors.As(decErr, &te):
			for _, msg := range te.Errors {
				p := yamlProblem(name, errors.New(msg))
				if p.Line > 0 && len(ruleNodes) > 0 && p.Line >= ruleNodes[0].node.Line {
					p.Rule = ruleAt(p.Line)
				}
				problems = append(problems, p)
			}
		case decErr != nil && !errors.Is(decErr, io.EOF):
			problems = append(problems, yamlProblem(name, decErr))
			continue
		}
		root := doc
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if root.Kind != yaml.MappingNode || mapValue(root, "rules") == nil {
			if te == nil {
				problems = append(problems, Problem{File: name, Line: root.Line, Msg: "want a top-level 'rules:' list"})
			}
			continue
		}
		if len(fs.Rules) != len(ruleNodes) {
			// The list did not decode (wrong type): already reported.
			continue
		}
		for i := range fs.Rules {
			rn := ruleNodes[i]
			rule, ps := compile(fs.Rules[i], name, rn.node)
			if prev, dup := ids[rule.ID]; dup && rule.ID != "" {
				ps = append(ps, Problem{File: name, Line: rn.node.Line, Rule: rule.ID, Msg: fmt.Sprintf("id already used by the rule at line %d", prev)})
			}
			if rule.ID != "" {
				if _, dup := ids[rule.ID]; !dup {
					ids[rule.ID] = rn.node.Line
				}
			}
			problems = append(problems, ps...)
			out.rules = append(out.rules, rule)
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return invalid(problems...)
	}
	if len(out.rules) == 0 {
		return invalid(Problem{File: name, Msg: "no rules in file"})
	}
	return out, nil
}

type ruleNode struct {
	id   string
	node *yaml.Node
}

// ruleNodesOf returns each item of the top-level rules list with its id.
func ruleNodesOf(doc *yaml.Node) []ruleNode {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	list := mapValue(root, "rules")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]ruleNode, 0, len(list.Content))
	for _, item := range list.Content {
		id := ""
		if v := mapValue(item, "id"); v != nil && v.Kind == yaml.ScalarNode {
			id = v.Value
		}
		out = append(out, ruleNode{id: id, node: item})
	}
	return out
}

// mapValue returns the value node of key in a mapping node.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// lineOf returns the line of the key at path under n (the line a person
// looks at), or of the deepest part of the path that exists.
func lineOf(n *yaml.Node, path ...string) int {
	line := n.Line
	cur := n
	for _, key := range path {
		if cur.Kind == yaml.SequenceNode {
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(cur.Content) {
				return line
			}
			cur = cur.Content[i]
			line = cur.Line
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == key {
				line = cur.Content[i].Line
				cur = cur.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// yamlProblem turns a yaml.v3 error message into a Problem a rule author
// can act on: the line, and the key or type in our words.
func yamlProblem(file string, err error) Problem {
	msg := err.Error()
	p := Problem{File: file, Msg: msg}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	}
	p.Msg = friendlyYAMLMessage(p.Msg)
	return p
}

var (
	unknownFieldRe = regexp.MustCompile(`^field (.+) not found in type rules\.(\w+)$`)
	fieldSetRe     = regexp.MustCompile(`^field (.+) already set in type rules\.(\w+)$`)
	cannotRe       = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `([^`]*)`)? into (.+)$")
)

// sections names each spec type the way a rule file spells it, with its
// allowed keys.
var sections = map[string]struct {
	name string
	typ  reflect.Type
}{
	"fileSpec":   {"the top level", reflect.TypeFor[fileSpec]()},
	"RuleSpec":   {"a rule", reflect.TypeFor[RuleSpec]()},
	"MatchSpec":  {"match/corroborate", reflect.TypeFor[MatchSpec]()},
	"CondSpec":   {"a data condition", reflect.TypeFor[CondSpec]()},
	"ErrorSpec":  {"error", reflect.TypeFor[ErrorSpec]()},
	"RepeatSpec": {"repeat", reflect.TypeFor[RepeatSpec]()},
	"NeedsSpec":  {"needs", reflect.TypeFor[NeedsSpec]()},
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

func friendlyYAMLMessage(msg string) string {
	if m := unknownFieldRe.FindStringSubmatch(msg); m != nil {
		if s, ok := sections[m[2]]; ok {
			return fmt.Sprintf("unknown key %q in %s (allowed: %s)", m[1], s.name, strings.Join(yamlKeys(s.typ), ", "))
		}
		return fmt.Sprintf("unknown key %q", m[1])
	}
	if m := fieldSetRe.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("key %q given twice", m[1])
	}
	if m := cannotRe.FindStringSubmatch(msg); m != nil {
		got := map[string]string{"!!seq": "a list", "!!map": "a mapping", "!!str": "a string", "!!int": "a number", "!!bool": "true/false", "!!float": "a number", "!!null": "nothing"}[m[1]]
		if got == "" {
			got = m[1]
		}
		if m[2] != "" {
			got += " " + strconv.Quote(m[2])
		}
		want := m[3]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["):
			want = "a mapping of event ID to text"
		case strings.HasPrefix(want, "rules."), strings.HasPrefix(want, "*rules."):
			want = "a mapping"
		case strings.HasPrefix(want, "int"), strings.HasPrefix(want, "uint"):
			want = "a whole number"
		case want == "bool":
			want = "true or false"
		case want == "string":
			want = "a string"
		}
		return fmt.Sprintf("want %s, got %s", want, got)
	}
	return msg
}
