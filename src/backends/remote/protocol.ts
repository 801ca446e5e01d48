// Headers one Portico deployment sends another when it runs functions there
// (backend.kind: remote). The far side honours them only on requests that
// carry its admin key.

/** `public`: the original caller may only run public functions. */
export const CALLER_HEADER = 'x-portico-caller';
/** The original caller's token was invalid; getUserIdentity() throws this message. */
export const IDENTITY_ERROR_HEADER = 'x-portico-identity-error';
