package login

// RunAccountsLogin is runAccountsLogin, for the tests that inject the issuer's clock and browser.
var RunAccountsLogin = runAccountsLogin
