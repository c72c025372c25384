package config

import (
	"fmt"
	"strings"
)

// checker collects problems and knows where each field path was written, so
// validation code names a field and the place follows.
type checker struct {
	file string
	// lines maps a field path to the line its key (or list item) is on.
	lines map[string]int
	// fromEnv maps a field path to the variable that overrode it.
	fromEnv map[string]string
	// placeless marks paths whose value came from neither the file nor the
	// environment (a flag bound into viper), so no line is blamed.
	placeless map[string]bool
	// unset marks paths whose value named an unset variable: that problem
	// already explains why the value is empty.
	unset map[string]bool
	// broken marks paths whose value has the wrong shape: viper coerced
	// or dropped it, so later checks under them would only add noise.
	broken map[string]bool
	// scalars holds single values as written in the file, by path.
	scalars map[string]string
	// pairs holds the entries of mappings with free keys (model_map) as
	// written, by path: viper lower-cases keys, and model names keep case.
	pairs    map[string][][2]string
	problems Problems
}

func newChecker(file string) *checker {
	return &checker{
		file:      file,
		lines:     map[string]int{},
		fromEnv:   map[string]string{},
		placeless: map[string]bool{},
		scalars:   map[string]string{},
		pairs:     map[string][][2]string{},
		unset:     map[string]bool{},
		broken:    map[string]bool{},
	}
}

// add records a problem at path.
func (c *checker) add(path, format string, args ...any) {
	for p := path; p != ""; p = parent(p) {
		if c.broken[p] {
			return
		}
	}
	p := c.place(path)
	p.Path = path
	p.Message = fmt.Sprintf(format, args...)
	c.problems = append(c.problems, p)
}

// missing records that a required value at path is empty, unless an unset
// ${VAR} there was already reported.
func (c *checker) missing(path, format string, args ...any) {
	if !c.unset[path] {
		c.add(path, "missing; "+format, args...)
	}
}

// addAt records a problem at an explicit line, for what the YAML walk finds
// (a repeated key, a syntax error).
func (c *checker) addAt(line int, path, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// place finds where path was set: the overriding variable, else the line of
// the path or of its nearest written parent (a missing field is blamed on
// the list item or section that lacks it).
func (c *checker) place(path string) Problem {
	if env, ok := c.fromEnv[path]; ok {
		return Problem{File: "$" + env}
	}
	if c.placeless[path] {
		return Problem{}
	}
	for p := path; p != ""; p = parent(p) {
		if line, ok := c.lines[p]; ok {
			return Problem{File: c.file, Line: line}
		}
	}
	return Problem{File: c.file}
}

// parent strips the last element of a field path: accounts[1].type ->
// accounts[1] -> accounts -> "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// wrongShape records that the value at path is not what the schema wants.
func (c *checker) wrongShape(line int, path, format string, args ...any) {
	c.addAt(line, path, format, args...)
	c.broken[path] = true
}
