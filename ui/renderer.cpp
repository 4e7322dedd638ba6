// The window's Vulkan device, swapchain and ImGui backend (drawing: renderer_images.cpp,
// renderer_frame.cpp).
#include "ui/renderer.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "ui/texture.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

void imgui_check(VkResult result) {
    vk_check(result, "ImGui Vulkan backend");
}

}  // namespace

Renderer::Renderer(GLFWwindow* window, bool vsync) : window_(window), vsync_(vsync) {
    create_device();
    create_swapchain();
    create_image_pipeline();
    init_imgui();
}

Renderer::~Renderer() {
    if (device_) vkDeviceWaitIdle(device_);
    for (auto& frame : frames_) {
        for (auto& release : frame.garbage) release();
        frame.garbage.clear();
    }
    for (auto& release : pending_) release();
    if (imgui_ready_) ImGui_ImplVulkan_Shutdown();
}

std::string Renderer::device_name() const {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    return props.deviceName;
}

void Renderer::create_device() {
    if (!glfwVulkanSupported())
        throw VulkanError("no Vulkan loader or driver can draw windows on this system");
    uint32_t ext_count = 0;
    const char** exts = glfwGetRequiredInstanceExtensions(&ext_count);
    if (!exts) throw VulkanError("Vulkan has no window-surface support on this system");

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "rmvk";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pApplicationInfo = &app;
    info.enabledExtensionCount = ext_count;
    info.ppEnabledExtensionNames = exts;
    VkInstance instance = VK_NULL_HANDLE;
    vk_check(vkCreateInstance(&info, nullptr, &instance), "vkCreateInstance (window)");
    instance_ = UniqueInstance(instance);

    VkSurfaceKHR surface = VK_NULL_HANDLE;
    vk_check(glfwCreateWindowSurface(instance, window_, nullptr, &surface),
             "glfwCreateWindowSurface");
    surface_ = UniqueSurface(instance, surface);

    uint32_t count = 0;
    vkEnumeratePhysicalDevices(instance, &count, nullptr);
    std::vector<VkPhysicalDevice> physicals(count);
    vkEnumeratePhysicalDevices(instance, &count, physicals.data());
    int best_score = -1;
    for (VkPhysicalDevice pd : physicals) {
        uint32_t qcount = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &qcount, nullptr);
        std::vector<VkQueueFamilyProperties> families(qcount);
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &qcount, families.data());
        for (uint32_t q = 0; q < qcount; ++q) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(pd, q, surface, &present);
            if (!(families[q].queueFlags & VK_QUEUE_GRAPHICS_BIT) || !present) continue;
            VkPhysicalDeviceProperties props;
            vkGetPhysicalDeviceProperties(pd, &props);
            int score = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 4
                        : props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
                                                                                     : 1;
            if (score > best_score) {
                best_score = score;
                physical_ = pd;
                queue_family_ = q;
            }
            break;
        }
    }
    if (!physical_)
        throw VulkanError("no Vulkan device can draw to this window (" + std::to_string(count) +
                          " device(s) found, none with a graphics queue that presents)");

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue_info.queueFamilyIndex = queue_family_;
    queue_info.queueCount = 1;
    queue_info.pQueuePriorities = &priority;
    const char* device_exts[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo dinfo{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dinfo.queueCreateInfoCount = 1;
    dinfo.pQueueCreateInfos = &queue_info;
    dinfo.enabledExtensionCount = 1;
    dinfo.ppEnabledExtensionNames = device_exts;
    VkDevice device = VK_NULL_HANDLE;
    vk_check(vkCreateDevice(physical_, &dinfo, nullptr, &device), "vkCreateDevice (window)");
    device_ = UniqueDevice(device);
    vkGetDeviceQueue(device, queue_family_, 0, &queue_);

    uint32_t fcount = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface, &fcount, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(fcount);
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface, &fcount, formats.data());
    if (formats.empty()) throw VulkanError("the window surface offers no pixel format");
    format_ = formats[0];
    for (const auto& f : formats)
        if (f.format == VK_FORMAT_B8G8R8A8_UNORM || f.format == VK_FORMAT_R8G8B8A8_UNORM) {
            format_ = f;
            break;
        }

    // Swapchain images keep what was last drawn into them (load, not clear): only the part
    // that changed since is redrawn. An image never drawn into starts undefined and is drawn whole.
    auto make_pass = [&](bool fresh) {
        VkAttachmentDescription color{};
        color.format = format_.format;
        color.samples = VK_SAMPLE_COUNT_1_BIT;
        color.loadOp = fresh ? VK_ATTACHMENT_LOAD_OP_DONT_CARE : VK_ATTACHMENT_LOAD_OP_LOAD;
        color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
        color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
        color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
        color.initialLayout = fresh ? VK_IMAGE_LAYOUT_UNDEFINED : VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        color.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
        VkSubpassDescription subpass{};
        subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
        subpass.colorAttachmentCount = 1;
        subpass.pColorAttachments = &ref;
        VkSubpassDependency dep{};
        dep.srcSubpass = VK_SUBPASS_EXTERNAL;
        dep.dstSubpass = 0;
        dep.srcStageMask =
            VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        dep.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;  // a screenshot read of the same image
        dep.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
        dep.dstAccessMask =
            VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
        VkRenderPassCreateInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
        rp.attachmentCount = 1;
        rp.pAttachments = &color;
        rp.subpassCount = 1;
        rp.pSubpasses = &subpass;
        rp.dependencyCount = 1;
        rp.pDependencies = &dep;
        VkRenderPass pass = VK_NULL_HANDLE;
        vk_check(vkCreateRenderPass(device, &rp, nullptr, &pass), "vkCreateRenderPass");
        return UniqueRenderPass(device, pass);
    };
    render_pass_ = make_pass(false);
    fresh_pass_ = make_pass(true);

    for (auto& frame : frames_) {
        VkCommandPoolCreateInfo pinfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pinfo.queueFamilyIndex = queue_family_;
        VkCommandPool pool = VK_NULL_HANDLE;
        vk_check(vkCreateCommandPool(device, &pinfo, nullptr, &pool), "vkCreateCommandPool");
        frame.pool = UniqueCommandPool(device, pool);
        VkCommandBufferAllocateInfo ainfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ainfo.commandPool = pool;
        ainfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ainfo.commandBufferCount = 1;
        vk_check(vkAllocateCommandBuffers(device, &ainfo, &frame.cmd), "vkAllocateCommandBuffers");
        VkFenceCreateInfo finfo{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        finfo.flags = VK_FENCE_CREATE_SIGNALED_BIT;
        VkFence fence = VK_NULL_HANDLE;
        vk_check(vkCreateFence(device, &finfo, nullptr, &fence), "vkCreateFence");
        frame.fence = UniqueFence(device, fence);
        VkSemaphoreCreateInfo sinfo{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VkSemaphore a = VK_NULL_HANDLE, r = VK_NULL_HANDLE;
        vk_check(vkCreateSemaphore(device, &sinfo, nullptr, &a), "vkCreateSemaphore");
        frame.acquired = UniqueSemaphore(device, a);
        vk_check(vkCreateSemaphore(device, &sinfo, nullptr, &r), "vkCreateSemaphore");
        frame.rendered = UniqueSemaphore(device, r);
    }

    // Room for ImGui's font and a few hundred feature-map / input textures.
    VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 512}};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dp.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    dp.maxSets = 512;
    dp.poolSizeCount = 1;
    dp.pPoolSizes = sizes;
    VkDescriptorPool dpool = VK_NULL_HANDLE;
    vk_check(vkCreateDescriptorPool(device, &dp, nullptr, &dpool), "vkCreateDescriptorPool");
    descriptor_pool_ = UniqueDescriptorPool(device, dpool);
}

void Renderer::create_swapchain() {
    VkSurfaceCapabilitiesKHR caps;
    vk_check(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_, surface_, &caps),
             "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    extent_ = caps.currentExtent;
    if (extent_.width == std::numeric_limits<uint32_t>::max()) {
        extent_.width = std::clamp(static_cast<uint32_t>(w), caps.minImageExtent.width,
                                   caps.maxImageExtent.width);
        extent_.height = std::clamp(static_cast<uint32_t>(h), caps.minImageExtent.height,
                                    caps.maxImageExtent.height);
    }
    VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR;
    if (!vsync_) {
        uint32_t mcount = 0;
        vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &mcount, nullptr);
        std::vector<VkPresentModeKHR> modes(mcount);
        vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &mcount, modes.data());
        for (auto m : modes)
            if (m == VK_PRESENT_MODE_IMMEDIATE_KHR || m == VK_PRESENT_MODE_MAILBOX_KHR) mode = m;
    }
    min_image_count_ = std::max(2u, caps.minImageCount);
    uint32_t image_count = min_image_count_ + 1;
    if (caps.maxImageCount > 0) image_count = std::min(image_count, caps.maxImageCount);

    VkSwapchainCreateInfoKHR info{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    info.surface = surface_;
    info.minImageCount = image_count;
    info.imageFormat = format_.format;
    info.imageColorSpace = format_.colorSpace;
    info.imageExtent = extent_;
    info.imageArrayLayers = 1;
    // TRANSFER_SRC so --screenshot can read the rendered image back.
    info.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    info.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    info.preTransform = caps.currentTransform;
    info.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
    info.presentMode = mode;
    info.clipped = VK_TRUE;
    info.oldSwapchain = swapchain_.get();
    VkSwapchainKHR swapchain = VK_NULL_HANDLE;
    vk_check(vkCreateSwapchainKHR(device_, &info, nullptr, &swapchain), "vkCreateSwapchainKHR");
    images_.clear();
    swapchain_ = UniqueSwapchain(device_.get(), swapchain);

    uint32_t count = 0;
    vkGetSwapchainImagesKHR(device_, swapchain, &count, nullptr);
    std::vector<VkImage> images(count);
    vkGetSwapchainImagesKHR(device_, swapchain, &count, images.data());
    for (VkImage image : images) {
        SwapImage si;
        si.image = image;
        VkImageViewCreateInfo vinfo{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vinfo.image = image;
        vinfo.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vinfo.format = format_.format;
        vinfo.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView view = VK_NULL_HANDLE;
        vk_check(vkCreateImageView(device_, &vinfo, nullptr, &view),
                 "vkCreateImageView (swapchain)");
        si.view = UniqueImageView(device_.get(), view);
        VkFramebufferCreateInfo fb{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fb.renderPass = render_pass_;
        fb.attachmentCount = 1;
        fb.pAttachments = &view;
        fb.width = extent_.width;
        fb.height = extent_.height;
        fb.layers = 1;
        VkFramebuffer framebuffer = VK_NULL_HANDLE;
        vk_check(vkCreateFramebuffer(device_, &fb, nullptr, &framebuffer), "vkCreateFramebuffer");
        si.framebuffer = UniqueFramebuffer(device_.get(), framebuffer);
        images_.push_back(std::move(si));
    }
}

void Renderer::recreate_swapchain() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w == 0 || h == 0) return;
    // Rare (window resize): waiting for idle is simpler than deferring every old view.
    vkDeviceWaitIdle(device_);
    create_swapchain();
    if (imgui_ready_) ImGui_ImplVulkan_SetMinImageCount(min_image_count_);
}

void Renderer::init_imgui() {
    ImGui_ImplVulkan_InitInfo info{};
    info.Instance = instance_;
    info.PhysicalDevice = physical_;
    info.Device = device_;
    info.QueueFamily = queue_family_;
    info.Queue = queue_;
    info.DescriptorPool = descriptor_pool_;
    info.Subpass = 0;
    info.MinImageCount = min_image_count_;
    info.ImageCount = static_cast<uint32_t>(images_.size());
    info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    info.CheckVkResultFn = imgui_check;
    if (!ImGui_ImplVulkan_Init(&info, render_pass_))
        throw VulkanError("ImGui Vulkan backend failed to start");
    imgui_ready_ = true;
    submit_now([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
    ImGui_ImplVulkan_DestroyFontUploadObjects();
}

void Renderer::submit_now(const std::function<void(VkCommandBuffer)>& record) {
    VkCommandPoolCreateInfo pinfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pinfo.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pinfo.queueFamilyIndex = queue_family_;
    VkCommandPool raw_pool = VK_NULL_HANDLE;
    vk_check(vkCreateCommandPool(device_, &pinfo, nullptr, &raw_pool),
             "vkCreateCommandPool (upload)");
    auto pool = UniqueCommandPool(device_.get(), raw_pool);
    VkCommandBufferAllocateInfo ainfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ainfo.commandPool = pool;
    ainfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ainfo.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    vk_check(vkAllocateCommandBuffers(device_, &ainfo, &cmd), "vkAllocateCommandBuffers (upload)");
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(cmd, &begin), "vkBeginCommandBuffer (upload)");
    record(cmd);
    vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer (upload)");
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    vk_check(vkQueueSubmit(queue_, 1, &submit, VK_NULL_HANDLE), "vkQueueSubmit (upload)");
    vk_check(vkQueueWaitIdle(queue_), "vkQueueWaitIdle (upload)");
}

}  // namespace rmvk::ui
