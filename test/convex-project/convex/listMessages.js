import { query } from "./_generated/server";

export default query(async ({ db }) => db.query("messages").collect());
