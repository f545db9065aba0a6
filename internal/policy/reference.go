package policy

import (
	_ "embed"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

//go:embed reference.yaml
var referenceYAML []byte

// ReferenceYAML returns the commented YAML of the reference rules, for
// `gatehouse config example` and the documentation.
func ReferenceYAML() []byte { return slices.Clone(referenceYAML) }

// ReferenceSpecs returns the reference rules as specs, with their lines.
func ReferenceSpecs() []RuleSpec {
	specs, err := ParseSpecs(referenceYAML)
	if err != nil {
		panic(fmt.Sprintf("policy: embedded reference.yaml: %v", err))
	}
	return specs
}

// ReferenceRules returns the compiled rules for the reference trading API
// that `gatehouse serve --demo` protects: paper.localhost (paper) and
// live.localhost (live), with the scopes each route needs and fresh AAL3
// for transfers. The rules are embedded and tested, so it does not fail.
func ReferenceRules() *RuleSet { return MustCompile(ReferenceSpecs()) }

// ParseSpecs decodes a YAML list of rules, refusing unknown fields. It is
// for rule files on their own; rules inside the main configuration are
// decoded with it, through [RuleSpec.UnmarshalYAML].
func ParseSpecs(data []byte) ([]RuleSpec, error) {
	var specs []RuleSpec
	if err := yaml.Unmarshal(data, &specs); err != nil {
		return nil, err
	}
	return specs, nil
}
