package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the watch screen answers to.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Detail, Back                            key.Binding
	Pause, Filter, Usage, Help, Quit        key.Binding
}

// DefaultKeyMap is the watch screen's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "newest")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "oldest")),
		Detail:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "detail")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back/clear")),
		Pause:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Usage:    key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "usage")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line key summary of the footer.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Pause, k.Filter, k.Detail, k.Usage, k.Help, k.Quit}
}

// FullHelp is the ? screen, grouped by what the keys do.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Detail, k.Back, k.Pause, k.Filter, k.Usage},
		{k.Help, k.Quit},
	}
}
