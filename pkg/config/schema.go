package config

// The file's shape. These structs are what viper decodes into; they keep
// what the typed Config cannot (a weight left out versus weight 0, a
// duration still as written) until Load resolves them. The mapstructure tags
// are the file's keys: the YAML walk that finds unknown keys reads them too,
// so the schema is written once. A field tagged secret:"true" never has its
// value quoted in a problem.

type fileConfig struct {
	Listen       string               `mapstructure:"listen"`
	AllowedHosts []string             `mapstructure:"allowed_hosts"`
	MaxAttempts  *int                 `mapstructure:"max_attempts"`
	MaxBodyBytes *int64               `mapstructure:"max_body_bytes"`
	Redis        fileRedis            `mapstructure:"redis"`
	Sessions     fileSessions         `mapstructure:"sessions"`
	Headroom     fileHeadroom         `mapstructure:"headroom"`
	Timeouts     fileTimeouts         `mapstructure:"timeouts"`
	Limits       fileLimits           `mapstructure:"limits"`
	OAuth        fileOAuth            `mapstructure:"oauth"`
	Backend      fileBackend          `mapstructure:"chatgpt_backend"`
	ClientKeys   []fileClientKey      `mapstructure:"client_keys"`
	Accounts     []fileAccount        `mapstructure:"accounts"`
	Prices       map[string]filePrice `mapstructure:"prices"`
	Usage        fileUsage            `mapstructure:"usage"`
}

type filePrice struct {
	Input       *float64 `mapstructure:"input"`
	CachedInput *float64 `mapstructure:"cached_input"`
	Output      *float64 `mapstructure:"output"`
}

type fileUsage struct {
	Retention string `mapstructure:"retention"`
}

type fileTimeouts struct {
	Connect        string `mapstructure:"connect"`
	ResponseHeader string `mapstructure:"response_header"`
	StreamIdle     string `mapstructure:"stream_idle"`
	SlotWait       string `mapstructure:"slot_wait"`
	BodyRead       string `mapstructure:"body_read"`
	ClientIdle     string `mapstructure:"client_idle"`
	WebSocketIdle  string `mapstructure:"websocket_idle"`
	WebSocketAge   string `mapstructure:"websocket_max_age"`
}

type fileLimits struct {
	MaxEventBytes *int   `mapstructure:"max_event_bytes"`
	BodyMemory    *int64 `mapstructure:"body_memory"`
	WebSockets    *int   `mapstructure:"websocket_connections"`
	WSMessage     *int64 `mapstructure:"websocket_message_bytes"`
	Kept          *int64 `mapstructure:"kept_compactions"`
}

type fileBackend struct {
	URL string `mapstructure:"url"`
}

type fileOAuth struct {
	Issuer   string `mapstructure:"issuer"`
	TokenURL string `mapstructure:"token_url"`
	ClientID string `mapstructure:"client_id"`
}

type fileRedis struct {
	URL       string `mapstructure:"url" secret:"true"` // may hold a password
	KeyPrefix string `mapstructure:"key_prefix"`
}

type fileSessions struct {
	TTL       string `mapstructure:"ttl"`
	MoveAfter string `mapstructure:"move_after"`
	ItemsTTL  string `mapstructure:"items_ttl"`
}

type fileHeadroom struct {
	Threshold *float64 `mapstructure:"threshold"`
	Strategy  string   `mapstructure:"strategy"`
}

type fileClientKey struct {
	Name   string        `mapstructure:"name"`
	Key    string        `mapstructure:"key" secret:"true"`
	Role   string        `mapstructure:"role"`
	Limits fileKeyLimits `mapstructure:"limits"`
}

type fileKeyLimits struct {
	RequestsPerMinute *int64   `mapstructure:"requests_per_minute"`
	TokensPerDay      *int64   `mapstructure:"tokens_per_day"`
	TokensPerWeek     *int64   `mapstructure:"tokens_per_week"`
	USDPerMonth       *float64 `mapstructure:"usd_per_month"`
	Concurrent        *int64   `mapstructure:"concurrent"`
	Models            []string `mapstructure:"models"`
	Accounts          []string `mapstructure:"accounts"`
}

type fileAccount struct {
	Name         string   `mapstructure:"name"`
	Type         string   `mapstructure:"type"`
	BaseURL      string   `mapstructure:"base_url"`
	APIKey       string   `mapstructure:"api_key" secret:"true"`
	AccessToken  string   `mapstructure:"access_token" secret:"true"`
	RefreshToken string   `mapstructure:"refresh_token" secret:"true"`
	AccountID    string   `mapstructure:"account_id"`
	AuthFile     string   `mapstructure:"auth_file"`
	Weight       *int     `mapstructure:"weight"`
	Enabled      *bool    `mapstructure:"enabled"`
	Models       []string `mapstructure:"models"`
	Tags         []string `mapstructure:"tags"`
	MaxConc      *int     `mapstructure:"max_concurrency"`
	ProxyURL     string   `mapstructure:"proxy_url" secret:"true"` // may hold a password
	API          string   `mapstructure:"api"`
	// ModelMap as viper decodes it has its keys lower-cased; resolve takes
	// the pairs as written from the walk instead (checker.pairs).
	ModelMap map[string]string `mapstructure:"model_map"`
}
