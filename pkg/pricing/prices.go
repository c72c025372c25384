package pricing

// defaultPrices is the shipped table: OpenAI's Standard-tier, short-context
// list prices, USD per million tokens, for the models from gpt-5 on. Every
// figure was read from OpenAI's pricing page or a model page as quoted by
// the dated source named above its family; where two sources are named
// they agree. Dated snapshots (gpt-5-2025-08-07) and reasoning-effort
// suffixes (-high, -xhigh) are not listed: Lookup maps them to these names.
//
// Left out on purpose, so they stay unpriced until the config prices them:
// gpt-5.3-codex-spark (research preview, no API price: OpenAI's Codex rate
// card charges it 0 credits, codex-ops data/codex-rate-card.json checked
// 2026-05-13), gpt-5.5-cyber and gpt-5.6-cyber (no price found), and the
// GPT-6 generation (gpt-6-*, gpt-6.1-*), which is past this table's gpt-5.x
// scope and was found priced only in third-party release notes.
func defaultPrices() map[string]Price {
	return map[string]Price{
		// GPT-5 (2025-08-07) and GPT-5-Codex, which OpenAI prices as gpt-5.
		// Source: pydantic/genai-prices prices/providers/openai.yml, gpt-5*
		// entries, prices_checked 2025-11-13 against OpenAI's pricing page;
		// simonw/llm-prices data/openai.json (2026-08-05). gpt-5-codex at the
		// gpt-5 price: BerriAI/litellm issue #14931 (2025-09-26, maintainers:
		// "the entries for the gpt-5-codex models are correct"), cline PR #6465.
		// The -pro models publish no cached-input price: cached = input.
		"gpt-5":             {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5-chat-latest": {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5-codex":       {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5-mini":        {Input: 0.25, CachedInput: 0.025, Output: 2},
		"gpt-5-nano":        {Input: 0.05, CachedInput: 0.005, Output: 0.40},
		"gpt-5-pro":         {Input: 15, CachedInput: 15, Output: 120},

		// GPT-5.1 (2025-11-13) and its Codex models.
		// Source: Helicone/helicone PR #5240 (2025-11-13: gpt-5.1, -chat-latest
		// and -codex $1.25/$0.125/$10, gpt-5.1-codex-mini $0.25/$0.025/$2);
		// gpt-5.1-codex-max: BerriAI/litellm PR #17541 (2025-12-05, from
		// platform.openai.com/docs/models/gpt-5.1-codex-max, $1.25/$0.125/$10),
		// RooCodeInc/Roo-Code PR #9848; genai-prices gpt-5.1 and
		// gpt-5.1-codex-mini, prices_checked 2025-11-13.
		"gpt-5.1":             {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5.1-chat-latest": {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5.1-codex":       {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5.1-codex-max":   {Input: 1.25, CachedInput: 0.125, Output: 10},
		"gpt-5.1-codex-mini":  {Input: 0.25, CachedInput: 0.025, Output: 2},

		// GPT-5.2 (2025-12-11) and GPT-5.2-Codex.
		// Source: genai-prices gpt-5.2 (aliases -chat-latest, -codex) and
		// gpt-5.2-pro, prices_checked 2025-12-11; llm-prices data/openai.json;
		// fernando-nog.netlify.app/gpt-coding-model-costs-2026 (2026-05-05:
		// gpt-5.2-codex $1.75/$0.175/$14).
		"gpt-5.2":             {Input: 1.75, CachedInput: 0.175, Output: 14},
		"gpt-5.2-chat-latest": {Input: 1.75, CachedInput: 0.175, Output: 14},
		"gpt-5.2-codex":       {Input: 1.75, CachedInput: 0.175, Output: 14},
		"gpt-5.2-pro":         {Input: 21, CachedInput: 21, Output: 168},

		// GPT-5.3-Codex (2026-02-05) and GPT-5.3 Chat.
		// Source: genai-prices gpt-5.3-codex, prices_checked 2026-02-05, and
		// gpt-5.3 (pydantic/genai-prices PR #360, 2026-05-07, from
		// platform.openai.com/docs/models: gpt-5.3-chat-latest
		// $1.75/$0.175/$14); simonw/llm-prices PR #66 (2026-08-22) added
		// gpt-5.3-codex from OpenAI's pricing page; fernando-nog (2026-05-05).
		"gpt-5.3-chat-latest": {Input: 1.75, CachedInput: 0.175, Output: 14},
		"gpt-5.3-codex":       {Input: 1.75, CachedInput: 0.175, Output: 14},

		// GPT-5.4 (2026-03-05), mini and nano (2026-03-17), pro.
		// Source: genai-prices gpt-5.4*, prices_checked 2026-03-06 and
		// 2026-03-18; llm-prices data/openai.json; api-evangelist/openai
		// plans/openai-plans-pricing.yml (2026-05-22, read from
		// developers.openai.com/api/docs/pricing).
		"gpt-5.4":      {Input: 2.50, CachedInput: 0.25, Output: 15},
		"gpt-5.4-mini": {Input: 0.75, CachedInput: 0.075, Output: 4.50},
		"gpt-5.4-nano": {Input: 0.20, CachedInput: 0.02, Output: 1.25},
		"gpt-5.4-pro":  {Input: 30, CachedInput: 30, Output: 180},

		// GPT-5.5 (2026-04-23), the model Codex moved to, and pro.
		// Source: OpenAI's GPT-5.5 announcement as quoted in can1357/oh-my-pi
		// issue #828 (2026-04-27: $5 input, $30 output; pro $30/$180);
		// genai-prices gpt-5.5, prices_checked 2026-04-24 (cached $0.50);
		// api-evangelist/openai plans (2026-05-22); anandgupta42/aireceipts
		// PR #55 (2026-07-03, from the official pricing page).
		"gpt-5.5":     {Input: 5, CachedInput: 0.50, Output: 30},
		"gpt-5.5-pro": {Input: 30, CachedInput: 30, Output: 180},

		// GPT-5.6 Sol, Terra, Luna (GA 2026-07-09); the bare gpt-5.6 alias
		// routes to Sol. Terra and Luna at the 2026-07-30 cut; Sol at the
		// 2026-08-21 price, which OpenAI calls promotional "at least through
		// 2026-11-21" (launch price $5/$0.50/$30): re-check it.
		// Source: traceroot-ai/traceroot PR #2051 (2026-09-09, quoting
		// developers.openai.com/api/docs/models/gpt-5.6-sol: $4/$0.40/$20 and
		// the gpt-5.6 alias); pwrdrvr/PwrAgent PR #1868 (2026-08-31, from the
		// pricing page: Sol $4/$0.40/$20, Terra $2/$0.20/$12, Luna
		// $0.20/$0.02/$1.20); genai-prices gpt-5.6-*, prices_checked 2026-08-02.
		"gpt-5.6":       {Input: 4, CachedInput: 0.40, Output: 20},
		"gpt-5.6-sol":   {Input: 4, CachedInput: 0.40, Output: 20},
		"gpt-5.6-terra": {Input: 2, CachedInput: 0.20, Output: 12},
		"gpt-5.6-luna":  {Input: 0.20, CachedInput: 0.02, Output: 1.20},
	}
}
