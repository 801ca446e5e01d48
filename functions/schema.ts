import { defineSchema, defineTable, v } from 'portico';

// The example app's tables. Each index is a real index of the database:
// `withIndex('by_author', ...)` is a range scan, not a table scan.
export default defineSchema({
  messages: defineTable({
    author: v.string(),
    body: v.string(),
    format: v.union(v.literal('text'), v.literal('image')),
  }).index('by_author', ['author']),
  users: defineTable({
    tokenIdentifier: v.string(),
    name: v.string(),
    bio: v.optional(v.string()),
  }).index('by_token', ['tokenIdentifier']),
});
