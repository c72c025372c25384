package serve

// VetReload is vetReload, for its table test.
var VetReload = vetReload

// NewLogger is newLogger, for the test that it redacts.
var NewLogger = newLogger
