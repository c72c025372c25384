package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles are the looks of the watch screen, in one place so a theme is one
// change. Colours are ANSI 16 so they follow the terminal's palette.
type Styles struct {
	Title     lipgloss.Style
	Dim       lipgloss.Style
	Header    lipgloss.Style // the table's column names
	Selected  lipgloss.Style
	Healthy   lipgloss.Style
	Cooling   lipgloss.Style
	Invalid   lipgloss.Style
	OK        lipgloss.Style // 2xx
	ClientErr lipgloss.Style // 4xx
	ServerErr lipgloss.Style // 5xx and no answer
	Failover  lipgloss.Style
	Sticky    lipgloss.Style
	BarFull   lipgloss.Style
	BarEmpty  lipgloss.Style
	Banner    lipgloss.Style // paused, reconnecting
	Label     lipgloss.Style // field names in the detail view
	Help      help.Styles
}

// DefaultStyles is the watch screen's look.
func DefaultStyles() Styles {
	c := lipgloss.Color
	return Styles{
		Title:     lipgloss.NewStyle().Bold(true),
		Dim:       lipgloss.NewStyle().Foreground(c("8")),
		Header:    lipgloss.NewStyle().Bold(true),
		Selected:  lipgloss.NewStyle().Reverse(true),
		Healthy:   lipgloss.NewStyle().Foreground(c("2")),
		Cooling:   lipgloss.NewStyle().Foreground(c("3")),
		Invalid:   lipgloss.NewStyle().Foreground(c("1")).Bold(true),
		OK:        lipgloss.NewStyle().Foreground(c("2")),
		ClientErr: lipgloss.NewStyle().Foreground(c("3")),
		ServerErr: lipgloss.NewStyle().Foreground(c("1")),
		Failover:  lipgloss.NewStyle().Foreground(c("5")),
		Sticky:    lipgloss.NewStyle().Foreground(c("6")),
		BarFull:   lipgloss.NewStyle().Foreground(c("4")),
		BarEmpty:  lipgloss.NewStyle().Foreground(c("8")),
		Banner:    lipgloss.NewStyle().Bold(true).Reverse(true),
		Label:     lipgloss.NewStyle().Bold(true),
		Help:      help.DefaultStyles(true),
	}
}
