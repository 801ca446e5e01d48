import { api, httpAction } from 'portico';

/**
 * POST /sendImage?author=<name> with the image bytes as the body: stores the
 * file, then records a message pointing at it (the seed's third example).
 */
export default httpAction(async (ctx, request) => {
  const author = new URL(request.url).searchParams.get('author');
  if (!author) return Response.json({ code: 'MissingAuthor', message: 'Add ?author=<name>' }, { status: 400 });
  const blob = await request.blob();
  // An empty body is a curl typo (a wrong @path sends nothing), not an image.
  if (blob.size === 0) {
    return Response.json({ code: 'EmptyUpload', message: 'The body is empty: send the image bytes, e.g. --data-binary @examples/images/portico.png' }, { status: 400 });
  }
  const storageId = await ctx.storage.store(blob);
  await ctx.runMutation(api.messages.sendImage, { author, storageId });
  return Response.json({ storageId, url: await ctx.storage.getUrl(storageId) });
});
