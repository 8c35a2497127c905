# Small-batch matrix-product kernels against their scalar reference and at::linear.
pad_test(test_kernels test_kernels.cpp)
target_link_libraries(test_kernels PRIVATE pad_kernels)
# WeightMatrix (every stored type) against its reference and the numpy dequantization oracle.
pad_test(test_kernels_weight test_kernels_weight.cpp test_thread_pool.cpp)
target_link_libraries(test_kernels_weight PRIVATE pad_kernels)
# The 8-bit integer products for quantized weights: SIMD = scalar reference = dequantized product.
pad_test(test_quant_dot test_quant_dot.cpp)
target_link_libraries(test_quant_dot PRIVATE pad_kernels)
# q8_0, q4_K, q5_K and q6_K interleaved by 16 rows: same blocks, reference = row layout's sums, VNNI = reference, matmul.
pad_test(test_interleaved test_interleaved.cpp)
target_link_libraries(test_interleaved PRIVATE pad_kernels)
