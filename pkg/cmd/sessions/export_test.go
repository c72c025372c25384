package sessions

// RunSessionsList is runSessionsList, for the tests that run it with a fixed clock.
var RunSessionsList = runSessionsList
