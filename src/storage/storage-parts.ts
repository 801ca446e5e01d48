import type { StorageService } from './storage-service.js';
import type { UploadTokens } from './upload-tokens.js';

/** Everything storage-related a generation needs, local or remote alike. */
export interface StorageParts {
  service: StorageService;
  /** A cheap check that a string can be a storage id, before any lookup. */
  isId(id: string): boolean;
  /** A fresh token for generateUploadUrl(). */
  uploadToken(): Promise<string>;
  /**
   * Who answers /api/storage: this deployment from its own files (with its
   * upload tokens), or the function tier a remote backend forwards to.
   */
  endpoint: { kind: 'local'; tokens: UploadTokens } | { kind: 'remote'; url: string; adminKey: string };
  /** Stops its background work (the orphan sweep); a retired storage does nothing more. */
  close(): void;
}
