# Training layer tests: PersRM loss and gradients, optimizer, synthetic tasks, resume, data, BPE.
pad_test(test_train test_train_loss.cpp test_train_task.cpp)
target_link_libraries(test_train PRIVATE pad_train)
target_precompile_headers(test_train PRIVATE <ATen/ATen.h>)
