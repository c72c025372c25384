// Package metrics exposes the proxy's Prometheus metrics. Counters and
// histograms are fed from the decision records the relay publishes, so the
// request path never touches a metric; gauges of live state (account up,
// streams in flight) are read from the health tracker at scrape time. It
// uses its own registry: nothing lands in the process-wide default one.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/store"
)

// noAccount labels requests that never reached an account (bad request, no
// available account), so they still count in proxy_requests_total.
const noAccount = "none"

// Sources is the live state read at scrape time.
type Sources struct {
	// Accounts returns the running pool; it changes on reload.
	Accounts func() []*account.Account
	// Health answers cooldowns and streams in flight.
	Health *health.Tracker
	// Dropped counts decisions lost to slow subscribers.
	Dropped func() uint64
	// WebSockets counts the client WebSocket connections open now.
	WebSockets func() int
	// Prices prices what each request served for proxy_cost_usd_total;
	// nil: no cost is counted.
	Prices Pricer
}

// Pricer prices a model's usage at the price table; ok is false for an
// unpriced model, which adds no cost.
type Pricer interface {
	Cost(model string, u store.Usage) (usd float64, ok bool)
}

// Metrics holds the proxy's collectors in their own registry.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	ttfb      *prometheus.HistogramVec
	duration  *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	sticky    *prometheus.CounterVec
	failovers *prometheus.CounterVec
	items     *prometheus.CounterVec
	doors     *prometheus.CounterVec
	cost      *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	prices    Pricer
}

// latencyBuckets span a fast first byte (tens of ms) to a long reasoning
// turn (minutes): the defaults stop at 10 s, which most streams exceed.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// New returns the metrics, registered in a fresh registry with the live
// gauges read from src.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		prices: src.Prices,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_requests_total",
			Help: "Requests answered, by the account that served them (none: no account), HTTP status and client key (its name; login:<account> for a ChatGPT login; empty when the proxy checks no keys).",
		}, []string{"account", "status", "client"}),
		ttfb: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxy_upstream_ttfb_seconds",
			Help:    "Time from the request's arrival to the first byte passed to the client.",
			Buckets: latencyBuckets,
		}, []string{"account"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxy_request_duration_seconds",
			Help:    "Time from the request's arrival to the end of its answer.",
			Buckets: latencyBuckets,
		}, []string{"account"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_tokens_total",
			Help: "Tokens the upstreams reported, by account, kind (input, cached, output, reasoning) and client key.",
		}, []string{"account", "kind", "client"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_cost_usd_total",
			Help: "What the requests served would cost at the price table's API prices (for a ChatGPT account, the API-equivalent), by account and client key; unpriced models add nothing.",
		}, []string{"account", "client"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_client_limit_refusals_total",
			Help: "Requests a client key's limit refused before any account was tried, by client key and limit (requests_per_minute, tokens_per_day, tokens_per_week, usd_per_month, concurrent, models, accounts).",
		}, []string{"client", "limit"}),
		sticky: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_sticky_total",
			Help: "Routing decisions by result: sticky, new, headroom, planner, resumed, rebound, unsticky, failover; prewarm: a WebSocket warmup the proxy answered itself.",
		}, []string{"result"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_failovers_total",
			Help: "Attempts that failed and moved the request to another account, by the account left and why.",
		}, []string{"from", "reason"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_conversation_items_total",
			Help: "What the serving account could not read and was not sent, by account and what: reasoning_removed (items another account minted), compaction_remade (the account compacted the kept history now), compaction_reused (its own remake, made before), compaction_lost (the history was gone: left out), refused (the upstream refused items and the request was sent again without them).",
		}, []string{"account", "what"}),
		doors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxy_front_door_requests_total",
			Help: "Requests answered, by the front door they came in by (responses, websocket, chat_completions) and the API the serving account was sent (responses, chat_completions; none: no account).",
		}, []string{"door", "api"}),
	}
	m.reg.MustRegister(m.requests, m.ttfb, m.duration, m.tokens, m.sticky, m.failovers, m.items, m.doors, m.cost, m.refusals, &live{src: src})
	if src.Dropped != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "proxy_events_dropped_total",
			Help: "Decision events lost to subscribers that fell behind (the TUI, /_proxy/events, metrics).",
		}, func() float64 { return float64(src.Dropped()) }))
	}
	if src.WebSockets != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "proxy_websockets_open",
			Help: "Client WebSocket connections open now (limits.websocket_connections bounds them).",
		}, func() float64 { return float64(src.WebSockets()) }))
	}
	return m
}

// Registry is the registry the metrics live in, for tests and for adding
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Observe counts one finished request.
func (m *Metrics) Observe(d event.Decision) {
	acct := d.Account
	if acct == "" {
		acct = noAccount
	}
	// The client label is bounded by the config: a key's name, or a
	// ChatGPT login of one of the accounts; the server admits nothing else.
	m.requests.WithLabelValues(acct, strconv.Itoa(d.Status), d.Client).Inc()
	if d.Limit != "" {
		m.refusals.WithLabelValues(d.Client, d.Limit).Inc()
	}
	m.doors.WithLabelValues(doorLabel(d), apiLabel(d)).Inc()
	if d.TTFB > 0 {
		m.ttfb.WithLabelValues(acct).Observe(d.TTFB.Seconds())
	}
	m.duration.WithLabelValues(acct).Observe(d.Duration.Seconds())
	for _, t := range []struct {
		kind string
		n    int64
	}{
		{"input", d.Usage.InputTokens},
		{"cached", d.Usage.CachedTokens},
		{"output", d.Usage.OutputTokens},
		{"reasoning", d.Usage.ReasoningTokens},
	} {
		if t.n > 0 {
			m.tokens.WithLabelValues(acct, t.kind, d.Client).Add(float64(t.n))
		}
	}
	m.observeCost(d)
	if d.Reason != "" {
		m.sticky.WithLabelValues(d.Reason).Inc()
	}
	if n := d.ItemCounts; n != nil {
		for _, c := range []struct {
			what string
			n    int
		}{
			{"reasoning_removed", n.Removed}, {"compaction_remade", n.Remade}, {"compaction_reused", n.Reused},
			{"compaction_lost", n.Lost}, {"refused", n.Refused},
		} {
			if c.n > 0 {
				m.items.WithLabelValues(acct, c.what).Add(float64(c.n))
			}
		}
	}
	// Every failed attempt followed by another one is a failover; the last
	// attempt, failed or not, is where the request ended.
	for i := 0; i+1 < len(d.Attempts); i++ {
		m.failovers.WithLabelValues(d.Attempts[i].Account, FailoverReason(d.Attempts[i].Class)).Inc()
	}
}

// observeCost adds what d served at the price table, for the model the
// account served (the ledger's, so the two agree).
func (m *Metrics) observeCost(d event.Decision) {
	if m.prices == nil || d.Account == "" || d.Status/100 != 2 {
		return
	}
	model := d.Model
	if d.UpstreamModel != "" {
		model = d.UpstreamModel
	}
	u := store.Usage{Requests: 1, InputTokens: d.Usage.InputTokens, CachedTokens: d.Usage.CachedTokens, OutputTokens: d.Usage.OutputTokens, ReasoningTokens: d.Usage.ReasoningTokens}
	if usd, ok := m.prices.Cost(model, u); ok && usd > 0 {
		m.cost.WithLabelValues(d.Account, d.Client).Add(usd)
	}
}

// FailoverReason is the label for an attempt's class, bounded to the known
// classes so a label can never explode: the outcome classes, "busy" for a
// full account, else "other".
func FailoverReason(class string) string {
	switch health.Class(class) {
	case health.Network, health.ServerError, health.Quota, health.RateLimit,
		health.Unauthorized, health.NotFound, health.ClientError, health.Overloaded, health.Forbidden, health.NotAPI:
		return class
	}
	if class == "busy" {
		return class
	}
	return "other"
}

// live reports the gauges of the pool's current state at scrape time, so
// they are never stale and cost nothing between scrapes.
type live struct{ src Sources }

var (
	upDesc = prometheus.NewDesc("proxy_account_up",
		"1 when the account can take traffic (enabled, not cooling down, not invalid), else 0.", []string{"account"}, nil)
	inflightDesc = prometheus.NewDesc("proxy_inflight",
		"Streams in flight on the account in this instance.", []string{"account"}, nil)
)

// Describe implements prometheus.Collector.
func (l *live) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- inflightDesc
}

// Collect implements prometheus.Collector.
func (l *live) Collect(ch chan<- prometheus.Metric) {
	if l.src.Accounts == nil || l.src.Health == nil {
		return
	}
	for _, a := range l.src.Accounts() {
		up := 0.0
		if _, cooling := l.src.Health.Cooldown(a); a.Enabled && !cooling {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, a.Name)
		ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(l.src.Health.InFlight(a.Name)), a.Name)
	}
}

// doorLabel names the front door of d.
func doorLabel(d event.Decision) string {
	switch {
	case d.Door != "":
		return d.Door
	case d.Transport == "websocket":
		return "websocket"
	}
	return "responses"
}

// apiLabel names the API d's account was sent.
func apiLabel(d event.Decision) string {
	switch {
	case d.Account == "":
		return noAccount
	case d.API != "":
		return d.API
	}
	return "responses"
}
