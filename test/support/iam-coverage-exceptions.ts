/**
 * Grants the suite never exercises, each with why it is still right to grant. An id is what the
 * coverage report prints for the finding (`<function> <Sid> <action or resource>`).
 */
export interface CoverageException {
  id: string;
  reason: string;
}

export const IAM_COVERAGE_EXCEPTIONS: CoverageException[] = [];
