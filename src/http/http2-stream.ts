import type { ServerResponse } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';

// On HTTP/2 a refused body ends one stream, never the connection, which
// other requests share. Once the answer is out, RST_STREAM with NO_ERROR
// tells the client to stop sending the rest (RFC 9113 8.1); until then flow
// control holds it to the stream's window, so nothing past the limit piles up.

/** Whether `res` answers an HTTP/2 request. */
export function isHttp2(res: ServerResponse): boolean {
  return res.req?.httpVersionMajor === 2;
}

export function endStreamAfterAnswer(res: ServerResponse): void {
  const stream = (res as unknown as { stream?: ServerHttp2Stream }).stream;
  if (!stream) return;
  const end = () => {
    if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
  };
  // The stream's own 'finish' (the answer is written); the response's waits for the whole stream to close.
  if (stream.writableFinished) end();
  else stream.once('finish', end);
}
