"""One small error tree for robot calibration, grouped by the phase a caller can handle.

Every message names the bad value, what was expected and, where there is one, the fix.
"""


class CalibrationError(Exception):
    """Anything that went wrong while making, reading or using a calibration."""


class CalibrationFileError(CalibrationError, ValueError):
    """A calibration file (vla-lite's, LeRobot's or a camera's) is missing, malformed or inconsistent."""


class HomingError(CalibrationError, ValueError):
    """The middle pose cannot be homed: an offset would not fit the servo's Homing_Offset field."""


class RangeRecordingError(CalibrationError, ValueError):
    """A recorded range is unusable: a joint did not move, or it crossed the encoder's wrap point."""


class ArmReadError(CalibrationError):
    """The arm's servos did not answer as calibration needs (a servo missing or its readings stale)."""


class CalibrationMismatch(CalibrationError):
    """Two calibrations disagree (or a joint's range excludes an action range) by more than allowed."""


class CameraCalibrationError(CalibrationError):
    """Too few usable chessboard views, or OpenCV could not fit the camera model."""
