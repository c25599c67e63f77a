vrwkv_add_test(test_ops test_ops.cpp)
vrwkv_add_test(test_model test_model.cpp)
vrwkv_add_test(test_vrwkv_t test_vrwkv_t.cpp)
