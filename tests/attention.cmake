# Softmax attention (the O(T^2) baseline for Bi-WKV) on the CPU.
vrwkv_add_test(test_attention test_attention.cpp)
