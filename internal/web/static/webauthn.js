// gatehouse portal: security keys and passkeys (WebAuthn).
//
// Loaded only by the pages that use a security key. It calls gatehouse's
// own API on this origin, with this browser's cookies: the flow cookie
// while signing in, the session cookie once signed in. The server sends
// the options as JSON with base64url strings where the browser wants
// ArrayBuffers, and reads the credential back as JSON the same way.
//
// Every wording comes from the page (data-msg-* attributes), so that a
// refused key reads exactly like a refused code.
(function () {
  "use strict";

  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIDs(list) {
    return (list || []).map(function (c) {
      var d = Object.assign({}, c);
      d.id = fromB64url(c.id);
      return d;
    });
  }

  // creationOptions turns the server's options into the argument of
  // navigator.credentials.create.
  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) });
    pk.excludeCredentials = withIDs(pk.excludeCredentials);
    return { publicKey: pk };
  }

  // requestOptions turns the server's options into the argument of
  // navigator.credentials.get.
  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.allowCredentials = withIDs(pk.allowCredentials);
    return { publicKey: pk };
  }

  // credentialJSON is the PublicKeyCredential as its toJSON method makes
  // it, written out for browsers that lack the method.
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: { clientDataJSON: toB64url(r.clientDataJSON) },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    return out;
  }

  // api calls gatehouse's API on this origin and reads the JSON answer,
  // a problem document on failure.
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.json().then(
        function (data) { return { status: res.status, data: data || {} }; },
        function () { return { status: res.status, data: {} }; }
      );
    });
  }

  // Failure is what a step of a ceremony throws: what to say, or where
  // to go instead.
  function Failure(message, go) {
    this.message = message;
    this.go = go;
  }

  function setup(box) {
    var kind = box.getAttribute("data-webauthn");
    var button = box.querySelector("[data-webauthn-start]");
    var errorBox = box.querySelector("[data-webauthn-error]");
    var msg = function (k) { return box.getAttribute("data-msg-" + k) || box.getAttribute("data-msg-error"); };
    if (!button) return;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(msg("unsupported"));
      return;
    }
    button.hidden = false;

    function show(text) {
      errorBox.textContent = text;
      errorBox.hidden = false;
    }

    // problem turns an API failure into what to say or where to go.
    function problem(res) {
      var type = (res.data && res.data.type) || "";
      if (res.status === 429) {
        var secs = res.data.retry_after || 60;
        return new Failure(msg("wait").replace("{s}", String(secs)));
      }
      if (type.endsWith(":no-login-in-progress")) return new Failure("", "/login?failed=expired");
      if (type.endsWith(":step-up-required")) {
        return new Failure("", "/stepup?back=" + encodeURIComponent(location.pathname) + (res.data.required_assurance === "AAL3" ? "&need=3" : ""));
      }
      if (type.endsWith(":unauthenticated")) return new Failure("", "/login");
      if (type.endsWith(":factor-unavailable")) return new Failure(msg("notallowed"));
      if (type.endsWith(":bad-request") && kind === "enrol") return new Failure(msg("badname"));
      if (res.status === 401 || res.status === 403) return new Failure(msg("failed"));
      return new Failure(msg("error"));
    }

    function expect(status) {
      return function (res) {
        if (res.status !== status) throw problem(res);
        return res.data;
      };
    }

    // ceremonies, by the page's data-webauthn: each returns a promise of
    // the page to go to next.
    var ceremonies = {
      login: function () {
        var flow = encodeURIComponent(box.getAttribute("data-flow"));
        return api("POST", "/v1/login/" + flow + "/webauthn/begin")
          .then(expect(200))
          .then(function (begin) { return navigator.credentials.get(requestOptions(begin.options)); })
          .then(function (cred) { return api("POST", "/v1/login/" + flow + "/webauthn/finish", { response: credentialJSON(cred) }); })
          .then(expect(200))
          .then(function (done) {
            if (done.status === "device_approval_required") {
              return "/login/" + flow + "/device" + (done.number ? "?number=" + done.number : "");
            }
            return "/";
          });
      },
      stepup: function () {
        var flowID;
        return api("POST", "/v1/stepup", { factor: "webauthn" })
          .then(expect(200))
          .then(function (begin) {
            flowID = begin.flow;
            return navigator.credentials.get(requestOptions(begin.options));
          })
          .then(function (cred) { return api("POST", "/v1/stepup", { factor: "webauthn", flow: flowID, response: credentialJSON(cred) }); })
          .then(expect(200))
          .then(function () { return box.getAttribute("data-back") + "?done=confirmed"; });
      },
      // approve signs the challenge of one approval, which commits to
      // the hash of the details the page shows.
      approve: function () {
        var id = encodeURIComponent(box.getAttribute("data-approval"));
        return api("POST", "/v1/approvals/" + id + "/webauthn/begin")
          .then(expect(200))
          .then(function (begin) { return navigator.credentials.get(requestOptions(begin.options)); })
          .then(function (cred) { return api("POST", "/v1/approvals/" + id + "/webauthn/finish", { response: credentialJSON(cred) }); })
          .then(expect(200))
          .then(function () { return "/approvals/" + id + "?done=approved"; });
      },
      enrol: function () {
        var input = box.querySelector("input[name=name]");
        var name = input ? input.value.trim() : "";
        var factorID;
        return api("POST", "/v1/factors/webauthn", name ? { name: name } : {})
          .then(expect(201))
          .then(function (e) {
            factorID = e.factor.id;
            return navigator.credentials.create(creationOptions(e.options));
          })
          .then(function (cred) { return api("POST", "/v1/factors/" + encodeURIComponent(factorID) + "/confirm", { response: credentialJSON(cred) }); })
          .then(expect(200))
          .then(function (done) {
            if (done.recovery_codes && done.recovery_codes.length) {
              showCodes(done.recovery_codes, box.getAttribute("data-user") || "");
              return null;
            }
            return "/factors?done=key-added";
          });
      }
    };

    var run = ceremonies[kind];
    if (!run) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      errorBox.hidden = true;
      run().then(function (next) {
        if (next) location.assign(next);
        else button.disabled = false;
      }, function (err) {
        button.disabled = false;
        if (err instanceof Failure) {
          if (err.go) { location.assign(err.go); return; }
          show(err.message);
          return;
        }
        // The browser's own refusals (cancelled, timed out, a key this
        // site does not know) read like any failed factor.
        show(err && err.name === "TypeError" ? msg("error") : msg("failed"));
      });
    });
  }

  // showCodes shows the recovery codes issued with the first strong
  // factor, in the page's hidden section: they exist nowhere else.
  function showCodes(codes, user) {
    var sec = document.getElementById("new-codes");
    if (!sec) return;
    var list = sec.querySelector("[data-codes]");
    list.textContent = "";
    codes.forEach(function (c) {
      var li = document.createElement("li");
      var code = document.createElement("code");
      code.textContent = c;
      li.appendChild(code);
      list.appendChild(li);
    });
    var text = "gatehouse recovery codes for " + user + "\n" +
      "Each code works once, in place of your second factor.\n" +
      "Keep them somewhere safe and apart from your password. Making new codes voids these.\n\n" +
      codes.join("\n") + "\n";
    sec.querySelector("[data-codes-download]").href = "data:text/plain;charset=utf-8," + encodeURIComponent(text);
    // The rest of the page (and its warning banner) tells the state from
    // before the key: the codes alone stay until the visitor goes on.
    document.querySelectorAll("[data-factors-page], .banner").forEach(function (el) { el.hidden = true; });
    sec.hidden = false;
    sec.focus();
  }

  document.querySelectorAll("[data-webauthn]").forEach(setup);
})();
