// A lesson opened from a graded LTI link (/embed?lesson=...&lti=<launch>): each exercise's result goes to the
// server, which turns the lesson's results into a score on the course's gradebook line item (docs/LTI.md).

import { api } from "../connection.js";

/** A reporter for this launch (null when the widget was not launched from a graded link). */
export function gradebook(launch, { onScore = () => {}, onError = () => {} } = {}) {
  if (!launch || !/^[A-Za-z0-9_-]{16,64}$/.test(launch)) return null;
  return async (stepIndex, result) => {
    if (!Number.isInteger(stepIndex) || stepIndex < 0) return;
    try {
      const score = await api("POST", `/lti/launches/${launch}/score`, { exercise: stepIndex, correct: !!result.correct && !result.skipped });
      onScore(score);
    } catch (err) {
      onError(err);
    }
  };
}
