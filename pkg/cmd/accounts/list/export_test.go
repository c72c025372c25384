package list

// RunAccountsList is runAccountsList, for the tests that run it with a fixed clock.
var RunAccountsList = runAccountsList

// PoolHeadroom and WindowsCell are poolHeadroom and windowsCell, for their table tests.
var (
	PoolHeadroom = poolHeadroom
	WindowsCell  = windowsCell
)
