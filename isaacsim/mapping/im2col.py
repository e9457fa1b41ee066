"""The im2col functions under the mapping package's name; their home is `isaacsim.workload.im2col`
(below mapping, where the integer reference executor uses them)."""

from isaacsim.workload.im2col import conv_output_hw, conv_weight_matrix, fold_output, im2col

__all__ = ["conv_output_hw", "conv_weight_matrix", "fold_output", "im2col"]
