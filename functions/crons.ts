import { cronJobs, internal } from 'portico';

// Cron jobs, in UTC: `portico crons` lists them with their next run.
const crons = cronJobs();

crons.daily('daily message count', { hourUTC: 6, minuteUTC: 0 }, internal.messages.dailyCount);

export default crons;
