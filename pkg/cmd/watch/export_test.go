package watch

// WatchAddr is watchAddr, for its table test.
var WatchAddr = watchAddr
