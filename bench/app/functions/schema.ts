import { defineSchema, defineTable, v } from 'portico';

export default defineSchema({
  notes: defineTable({ author: v.string(), body: v.string() }).index('by_author', ['author']),
});
