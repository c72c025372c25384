package config

// Starter returns a commented starter config for `proxy config init`. It
// passes Load as written once its variables are set (OPENAI_API_KEY) and
// Codex is logged in (~/.codex/auth.json); a test holds it to that.
func Starter() string {
	return starter
}

const starter = `# proxy configuration.
# Any top-level value can also come from the environment as PROXY_<KEY>:
# PROXY_LISTEN, PROXY_REDIS_URL, PROXY_REDIS_KEY_PREFIX, PROXY_SESSIONS_TTL.
# ${VAR} in any value is replaced by that environment variable, which keeps
# secrets out of this file.

# Where Codex connects. In ~/.codex/config.toml give the provider
# base_url = "http://127.0.0.1:8787/v1".
# A non-loopback address is refused unless client_keys are set.
listen: 127.0.0.1:8787

# Requests whose Host header is not localhost, an IP address or listen's host
# are refused (403), as a DNS-rebinding web page's would be. Reached by a
# name (behind a load balancer, in a container network)? List it here,
# without a port (any port is admitted); *.example.com admits every name
# under example.com. Requests from web pages (an Origin header) are always
# refused. A change needs a restart.
# allowed_hosts: [proxy.internal, "*.example.com"]

redis:
  # Empty: an embedded Redis inside the proxy (sessions do not survive a
  # restart). A real server lets several proxies share sessions:
  # redis://[:password@]host:6379/0, rediss:// for TLS, or unix:///path.sock
  url: ""
  key_prefix: "proxy:"

sessions:
  # A conversation stays on the account it started on for this long after
  # its last request, so the upstream prompt cache keeps working.
  ttl: 30m

# New conversations keep off an account that has used this much (percent)
# of either rate-limit window while another has room; conversations already
# on it stay. Below it, the planner sends them where the room expires first
# (a window resetting soon with room left); headroom sends them to the
# emptiest; weighted uses the weights alone. See proxy routing simulate.
# headroom:
#   threshold: 90
#   strategy: planner

# Optional: when set, clients must send Authorization: Bearer <key>.
# client_keys:
#   - name: laptop               # shown in logs and metrics instead of the key
#     key: ${PROXY_CLIENT_KEY}

# The upstream accounts. Each new conversation picks one by weight; weight 0
# keeps an account as a standby, used only when the others are unavailable.
# Delete the examples you do not need.
accounts:
  # A ChatGPT account, logged in with ` + "`codex login`" + `. The proxy refreshes
  # its tokens and writes them back to the file.
  - name: chatgpt
    type: openai-responses
    auth_file: ~/.codex/auth.json
    weight: 1

  # The OpenAI API, or any compatible API that serves /responses.
  - name: openai-api
    type: openai
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    weight: 1
    # models: ["gpt-5*"]         # only these models (globs); empty: every model
    # enabled: false             # keep the account here but do not use it
    # proxy_url: socks5://127.0.0.1:1080   # send this account's traffic through a proxy (http, https, socks5)

  # A provider that serves only Chat Completions (DeepSeek, Kimi, GLM, Qwen,
  # Ollama, vLLM...): the proxy translates Codex's Responses requests for it.
  # - name: deepseek
  #   type: openai
  #   api: chat_completions
  #   base_url: https://api.deepseek.com/v1
  #   api_key: ${DEEPSEEK_API_KEY}
  #   model_map: {"*": deepseek-chat}   # the client's model -> this account's
`
