import { defineSchema, defineTable, v } from 'portico';

export default defineSchema({
  // What the query scenarios read: one document for author 'bench'.
  notes: defineTable({ author: v.string(), body: v.string() }).index('by_author', ['author']),
  // What the mutation scenarios write, so their inserts never grow `notes`.
  entries: defineTable({ author: v.string(), body: v.string() }).index('by_author', ['author']),
});
