/* The sign-in form: POST /api/v1/session with the user name and password, then go where the user was headed. */
(function () {
  "use strict";
  var form = document.getElementById("login-form");
  var error = document.getElementById("login-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    var username = form.username.value.trim();
    var password = form.password.value;
    if (!username || !password) {
      error.textContent = "Enter your user name and password.";
      error.hidden = false;
      (username ? form.password : form.username).focus();
      return;
    }
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    Tessera.api("/session", {method: "POST", json: {username: username, password: password}, noRedirect: true})
      .then(function () {
        location.assign(form.getAttribute("data-next") || "/search");
      })
      .catch(function (err) {
        error.textContent = err.status === 401 ? "User name or password not recognised." :
          err.status === 429 ? "Too many attempts; wait a minute and try again." : ("Sign-in failed: " + err.message);
        error.hidden = false;
        form.password.value = "";
        form.password.focus();
        button.disabled = false;
      });
  });
})();
