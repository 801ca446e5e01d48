import { httpEndpoint } from "./_generated/server";

// GET /getMessagesByAuthor?authorNumber=7 (or an authorNumber header): what
// "User 7" wrote, as JSON.
export default httpEndpoint(async ({ runQuery }, request) => {
  const number = new URL(request.url).searchParams.get("authorNumber") ?? request.headers.get("authorNumber");
  if (number === null) {
    return new Response("Give authorNumber as a query parameter or a header", { status: 400 });
  }
  const all = await runQuery("listMessages");
  const mine = all.filter((message) => message.author === `User ${number}`).map(({ body, author }) => ({ body, author }));
  return new Response(JSON.stringify(mine), { status: 200, headers: { "content-type": "application/json" } });
});
