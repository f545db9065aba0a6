// Verifies gatehouse's webhook signatures with the Standard Webhooks
// reference library. Reads one JSON case a line on stdin:
//   {"secret": "whsec_…", "headers": {…}, "payload": "…"}
// and prints "ok" or "refused: <reason>" a line for each.
const { Webhook } = require("standardwebhooks");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
for (const line of lines) {
  const c = JSON.parse(line);
  try {
    new Webhook(c.secret).verify(c.payload, c.headers, { jsonParse: false });
    console.log("ok");
  } catch (e) {
    console.log("refused: " + e.message);
  }
}
