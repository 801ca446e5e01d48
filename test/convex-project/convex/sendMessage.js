import { mutation } from "./_generated/server";

// Called as "sendMessage" (the default export) and "sendMessage:sendImage".
export default mutation(async ({ db }, { body, author }) => {
  await db.insert("messages", { body, author });
});

export const sendImage = mutation(async ({ db }, { storageId, author }) => {
  await db.insert("messages", { body: storageId, author, format: "image" });
});
