import { httpRouter } from "convex/server";
import { httpEndpoint } from "./_generated/server";
import getMessagesByAuthor from "./getMessagesByAuthor";

// A convex/ folder written the way Convex's "HTTP endpoints" page writes
// one: a router as the default export of http.js, handlers built with
// httpEndpoint from ./_generated/server taking a destructured context,
// functions named by strings, a file stored straight from the Request, and
// CORS done by hand (headers on the answer, an OPTIONS route for the
// preflight). Portico serves it untouched: portico serve --convex ./convex

const postMessage = httpEndpoint(async ({ runMutation }, request) => {
  const { author, body } = await request.json();
  await runMutation("sendMessage", { body: `Sent via HTTP endpoint: ${body}`, author });
  return new Response(null, { status: 200 });
});

const http = httpRouter();

http.route({ path: "/postMessage", method: "POST", handler: postMessage });

http.route({ path: "/getMessagesByAuthor", method: "GET", handler: getMessagesByAuthor });

http.route({
  path: "/sendImage",
  method: "POST",
  handler: httpEndpoint(async ({ storage, runMutation }, request) => {
    // The body goes to file storage as it arrives.
    const storageId = await storage.store(request);
    const author = new URL(request.url).searchParams.get("author");
    await runMutation("sendMessage:sendImage", { storageId, author });
    const headers = new Headers({ "Access-Control-Allow-Origin": process.env.CLIENT_ORIGIN, Vary: "origin" });
    return new Response(null, { status: 200, headers });
  }),
});

// The browser asks before it sends an image: answer only a real preflight.
http.route({
  path: "/sendImage",
  method: "OPTIONS",
  handler: httpEndpoint(async ({}, request) => {
    const asked = ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"];
    if (!asked.every((name) => request.headers.get(name) !== null)) return new Response();
    return new Response(null, {
      headers: new Headers({
        "Access-Control-Allow-Origin": process.env.CLIENT_ORIGIN,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type, Digest",
        "Access-Control-Max-Age": "86400",
      }),
    });
  }),
});

export default http;
