package serve

import (
	"fmt"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// demo is three fake upstream accounts served in-process for `serve --demo`:
// one of each type, weighted 2:1, so routing and stickiness show at once,
// and a provider that speaks only Chat Completions (weight 1), so the
// translation shows too.
type demo struct {
	servers  []*fakeupstream.Server
	accounts []config.Account
}

// The demo credentials are not secrets: they open only the in-process fakes.
const (
	demoAPIKey      = "sk-demo-openai-0000000000000000"
	demoAccessToken = "demo-chatgpt-access-token"
	demoAccountID   = "demo-chatgpt-account"
	demoChatAPIKey  = "sk-demo-chat-00000000000000000"
)

func startDemo() (*demo, error) {
	d := &demo{}
	api := fakeupstream.New("demo-openai", fakeupstream.WithAPIKey(demoAPIKey))
	chat := fakeupstream.New("demo-chatgpt", fakeupstream.WithChatGPT(demoAccessToken, demoAccountID), fakeupstream.WithWebSocket())
	only := fakeupstream.New("demo-chat-only", fakeupstream.WithAPIKey(demoChatAPIKey), fakeupstream.WithChatOnly())
	for _, s := range []*fakeupstream.Server{api, chat, only} {
		if err := s.Start("127.0.0.1:0"); err != nil {
			d.close()
			return nil, fmt.Errorf("starting demo upstream %s: %w", s.Name(), err)
		}
		d.servers = append(d.servers, s)
	}
	d.accounts = []config.Account{
		{Name: "demo-openai", Type: config.TypeOpenAI, BaseURL: api.URL() + "/v1", APIKey: demoAPIKey, Weight: 2, Enabled: true},
		{Name: "demo-chatgpt", Type: config.TypeOpenAIResponses, BaseURL: chat.URL() + "/backend-api/codex", AccessToken: demoAccessToken, AccountID: demoAccountID, Weight: 1, Enabled: true},
		{Name: "demo-chat-only", Type: config.TypeOpenAI, API: config.APIChatCompletions, BaseURL: only.URL() + "/v1", APIKey: demoChatAPIKey,
			ModelMap: map[string]string{"*": "demo-chat-model"}, Weight: 1, Enabled: true},
	}
	return d, nil
}

func (d *demo) close() {
	for _, s := range d.servers {
		_ = s.Close()
	}
}
