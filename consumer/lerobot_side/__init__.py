"""LeRobot driven as the harness needs it: its model on the original's inputs, its processors on raw observations."""
