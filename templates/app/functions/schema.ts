import { defineSchema, defineTable, v } from 'portico';

// The tables and their indexes. `withIndex('by_tag', ...)` is a range scan
// of a real database index.
export default defineSchema({
  notes: defineTable({
    text: v.string(),
    tag: v.string(),
  }).index('by_tag', ['tag']),
});
