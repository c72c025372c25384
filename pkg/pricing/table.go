// Package pricing holds a dated table of OpenAI API list prices and turns a
// usage record into its cost: an API account's usage gets what it was billed,
// a ChatGPT account's usage gets what the same tokens would have cost on the
// API, so a team sees what its pool saves.
//
// Prices are the Standard tier, short context (a request of no more than
// 272K input tokens), in USD per million tokens. Not represented: the
// long-context tier of gpt-5.4, gpt-5.5 and gpt-5.6 (2x input and 1.5x
// output for the whole request above 272K input tokens), Batch and Flex
// (half), Priority and Fast (2x to 2.5x), the GPT-5.6 cache-write charge
// (1.25x input) and regional data-residency uplift. A figure from this table
// is therefore an estimate, usually a floor, never a bill.
//
// A model the table does not know is unpriced: Lookup and Cost answer false,
// and the caller shows it as unpriced, never as a zero cost.
package pricing

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// AsOf is the date of the newest reading of OpenAI's published prices that
// the default table reflects. Each family's own source and date are in the
// comments of defaultPrices.
const AsOf = "2026-09-09"

// Price is a model's list price, in USD per million tokens.
type Price struct {
	// Input is an uncached input token's price.
	Input float64
	// CachedInput is a cache-hit input token's price. A model with no
	// cached-input price (the -pro models) bills cached tokens at Input.
	CachedInput float64
	// Output is an output token's price; reasoning tokens are output tokens.
	Output float64
}

// Table maps model names to prices. A Table is immutable once built, so one
// may be shared by every goroutine; With makes a new one.
type Table struct {
	prices map[string]Price
}

// defaultTable is built once: Default hands out the same immutable table.
var defaultTable = &Table{prices: defaultPrices()}

// Default is the table shipped with this release (see AsOf).
func Default() *Table { return defaultTable }

// With returns a copy of t in which overrides win: an override replaces a
// model's price or adds a model. Names are matched as Lookup matches them
// (case and surrounding space do not matter). The caller validates each
// override with ValidateOverride first; With does not refuse any.
func (t *Table) With(overrides map[string]Price) *Table {
	n := &Table{prices: make(map[string]Price, len(t.prices)+len(overrides))}
	for k, v := range t.prices {
		n.prices[k] = v
	}
	for k, v := range overrides {
		n.prices[normalize(k)] = v
	}
	return n
}

// Models lists the names the table prices exactly, sorted.
func (t *Table) Models() []string {
	names := make([]string, 0, len(t.prices))
	for k := range t.prices {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// datedSnapshot is the suffix of a dated snapshot id, as in gpt-5-2025-08-07.
var datedSnapshot = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}$`)

// effortSuffixes are the reasoning efforts that Codex relays and clients
// append to a model name (gpt-5.1-codex-max-xhigh, gpt-5.5-medium): the
// effort changes how many tokens a request spends, never their price.
var effortSuffixes = []string{"-none", "-minimal", "-low", "-medium", "-high", "-xhigh", "-max", "-ultra"}

// Lookup finds model's price: its exact name first; then, for a dated
// snapshot (gpt-5-2025-08-07), its family's name; then, for a name with a
// reasoning-effort suffix (gpt-5.5-xhigh), the name without it, itself
// looked up by the same rules. An exact entry always wins, so a model whose
// real name ends like a suffix (gpt-5.1-codex-max) is never cut. A model
// found by none of these is unpriced: false, and a zero Price that the
// caller must not use.
func (t *Table) Lookup(model string) (Price, bool) {
	return t.lookup(normalize(model), 2)
}

func (t *Table) lookup(name string, depth int) (Price, bool) {
	if p, ok := t.prices[name]; ok {
		return p, true
	}
	if depth == 0 {
		return Price{}, false
	}
	if base := datedSnapshot.ReplaceAllString(name, ""); base != name && base != "" {
		if p, ok := t.lookup(base, depth-1); ok {
			return p, true
		}
	}
	for _, s := range effortSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok && base != "" {
			return t.lookup(base, depth-1)
		}
	}
	return Price{}, false
}

func normalize(model string) string { return strings.ToLower(strings.TrimSpace(model)) }

// Usage is what one request, or a ledger row summing many, consumed.
// InputTokens counts every input token, cached ones included, as OpenAI
// reports input_tokens; CachedTokens is the part of them that hit the cache.
// OutputTokens counts every output token; ReasoningTokens is the part of
// them spent reasoning, carried for the ledger and never priced again.
type Usage struct {
	InputTokens, CachedTokens, OutputTokens, ReasoningTokens int64
}

// Cost prices u at model's price: uncached input (InputTokens less
// CachedTokens) at Input, CachedTokens at CachedInput, OutputTokens at
// Output. ReasoningTokens are inside OutputTokens and add nothing. ok is
// false when the model is unpriced; the caller shows no figure then.
//
// Rounding: the sum is kept in float64 and the result rounded once to the
// micro-dollar (1e-6 USD). float64 holds any token count a ledger will see
// exactly (below 2^53) and its relative error is far below a micro-dollar;
// rounding the reported figure keeps it free of binary noise (0.175 has no
// exact float64), so JSON, CSV and golden files stay stable. Integer
// micro-dollars per request were rejected: a cheap request costs less than
// one (a gpt-5-nano request of 10 tokens is 5e-7 USD) and would be rounded
// away on every request of a ledger. Price a ledger row from its summed
// tokens, not by adding rounded per-request costs.
//
// Negative counts are treated as zero, and cached tokens beyond the input
// count (a malformed usage block) are priced as cached, with no uncached
// input left to price.
func (t *Table) Cost(model string, u Usage) (usd float64, ok bool) {
	p, ok := t.Lookup(model)
	if !ok {
		return 0, false
	}
	in, cached, out := max(u.InputTokens, 0), max(u.CachedTokens, 0), max(u.OutputTokens, 0)
	uncached := max(in-cached, 0)
	micro := float64(uncached)*p.Input + float64(cached)*p.CachedInput + float64(out)*p.Output
	// micro is in USD per million tokens times tokens: micro-dollars.
	return math.Round(micro) / 1e6, true
}

// ValidateOverride checks a price the config sets for name: a price is a
// finite number of zero or more, and a cached input token never costs more
// than an uncached one (a model with no cache discount sets them equal).
func ValidateOverride(name string, p Price) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("pricing: a price override needs a model name")
	}
	for _, f := range []struct {
		field string
		v     float64
	}{{"input", p.Input}, {"cached_input", p.CachedInput}, {"output", p.Output}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("pricing: model %q: %s must be a number of USD per million tokens, not %v", name, f.field, f.v)
		}
		if f.v < 0 {
			return fmt.Errorf("pricing: model %q: %s is %v; a price is zero or more USD per million tokens", name, f.field, f.v)
		}
	}
	if p.CachedInput > p.Input {
		return fmt.Errorf("pricing: model %q: cached_input (%v) is above input (%v) USD per million tokens; "+
			"a cached token never costs more than an uncached one (set them equal for a model without a cache discount)",
			name, p.CachedInput, p.Input)
	}
	return nil
}

// Render writes the table as aligned text, one model a line in name order,
// under a header naming AsOf: the golden file of the default table, so a
// changed price shows in review.
func (t *Table) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "OpenAI API list prices, USD per 1M tokens, Standard tier, short context, as of %s\n", AsOf)
	fmt.Fprintf(&b, "%-22s %10s %10s %10s\n", "model", "input", "cached", "output")
	for _, m := range t.Models() {
		p := t.prices[m]
		fmt.Fprintf(&b, "%-22s %10s %10s %10s\n", m, money(p.Input), money(p.CachedInput), money(p.Output))
	}
	return b.String()
}

// money prints a price with at least two decimals and no more than it needs
// (0.005, 0.175, 1.25, 10.00).
func money(v float64) string {
	s := fmt.Sprintf("%.4f", v)
	s = strings.TrimRight(s, "0")
	if i := strings.IndexByte(s, '.'); len(s)-i-1 < 2 {
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	return s
}
