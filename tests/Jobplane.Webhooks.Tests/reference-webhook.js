// Runs the Standard Webhooks reference library (npm package standardwebhooks) on one delivery, in
// its own process, so our signatures are checked by code we did not write.
//   node reference-webhook.js <package folder> verify <secret> <id> <timestamp> <signature>  < body
//     prints "verified" (exit 0) or "rejected: <error name>: <message>" (exit 1)
//   node reference-webhook.js <package folder> sign <secret> <id> <timestamp>  < body
//     prints the library's "v1,<base64>" signature
// The body comes on stdin as raw bytes: argv would not carry arbitrary bytes faithfully.
"use strict";
const fs = require("node:fs");

const [packageFolder, mode, secret, id, timestamp, signature] = process.argv.slice(2);
const { Webhook } = require(packageFolder);
const body = fs.readFileSync(0);
const webhook = new Webhook(secret);

if (mode === "verify") {
  try {
    // jsonParse off: the check is about the signature, whatever the body holds.
    webhook.verify(body, { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature }, { jsonParse: false });
    console.log("verified");
  } catch (e) {
    console.log(`rejected: ${e.name}: ${e.message}`);
    process.exitCode = 1;
  }
} else if (mode === "sign") {
  console.log(webhook.sign(id, new Date(Number(timestamp) * 1000), body));
} else {
  console.error(`unknown mode ${mode}: expected verify or sign`);
  process.exitCode = 2;
}
