package test

// RunAccountsTest is runAccountsTest, for the tests that run it with a fixed clock.
var RunAccountsTest = runAccountsTest
