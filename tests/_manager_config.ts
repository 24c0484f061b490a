/** A config module that gives the servers of a test their Manager. */
export { RecordingManager as manager } from "./_recording_manager.ts";
